"""JSON Schemas of the output (`Stack`) and of the gold-label format: the contract for consumers.

`stackextract schema` writes them to schemas/; a test fails when the files are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stackextract.models import SCHEMA_VERSION, Category, Stack, Status


class GoldTool(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    aliases: list[str] = Field(default_factory=list)
    category: Category
    status: Status
    quote: str


class GoldReason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str
    text: str
    quote: str


class GoldRegret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str
    text: str
    would_instead: str | None = None
    quote: str


class GoldMigration(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from")
    to: str
    why: list[str] = Field(default_factory=list)
    quote: str


class GoldFile(BaseModel):
    """Hand-made labels of one writeup (shared/gold/FORMAT.md)."""

    model_config = ConfigDict(extra="forbid")
    source: str
    company: str | None = None
    tools: list[GoldTool]
    not_stack: list[str] = Field(default_factory=list)
    reasons: list[GoldReason] = Field(default_factory=list)
    regrets: list[GoldRegret] = Field(default_factory=list)
    migrations: list[GoldMigration] = Field(default_factory=list)


SCHEMAS: dict[str, type[BaseModel]] = {
    "stack.schema.json": Stack,
    "gold.schema.json": GoldFile,
}


def schema_of(name: str) -> dict[str, Any]:
    model = SCHEMAS[name]
    mode: Literal["validation", "serialization"] = "serialization"
    schema = model.model_json_schema(mode=mode, by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://stackextract.invalid/schemas/{name}"
    schema["x-schema-version"] = SCHEMA_VERSION
    return schema


def render(name: str) -> str:
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"


def write_schemas(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / name
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: str | Path) -> list[str]:
    """Names of schema files in `directory` that differ from the models."""
    directory = Path(directory)
    stale = []
    for name in SCHEMAS:
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != render(name):
            stale.append(name)
    return stale
