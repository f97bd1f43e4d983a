"""The result row of one document, as written to Parquet/JSONL and read back by the import.

One flat row per source, so that DuckDB, Spark or pandas can query the output directly;
the Stack itself is kept whole as JSON (`stack_json`, the same text the store keeps).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackextract.errors import failure_fields
from stackextract.models import Document, Stack

# status of a row: extracted now; its text was already extracted (content hash in the done
# set: no model call, the import reuses the stored extraction); or failed at `error_stage`
OK, DUPLICATE, FAILED = "ok", "duplicate", "failed"
BLOCKED = "blocked"  # robots.txt keeps the URL out: skipped, not failed (as batch has it)

# (name, type, meaning): the documented columns of the output (docs/scale.md)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("source", "string", "the key the store keeps it under: normalised URL, path or sha256:"),
    ("status", "string",
     "ok, duplicate (text already extracted), blocked (robots.txt keeps it out) or failed"),
    ("config_key", "string", "extractor configuration (backend, model, prompt, filters)"),
    ("url", "string", "requested URL"),
    ("final_url", "string", "URL after redirects"),
    ("path", "string", "local file path"),
    ("title", "string", "document title"),
    ("author", "string", "author"),
    ("published", "string", "publication date as found"),
    ("site_name", "string", "site name"),
    ("language", "string", "language code"),
    ("format", "string", "html, markdown or text"),
    ("content_sha256", "string", "SHA-256 of the cleaned text"),
    ("text", "string", "the cleaned text (what the store keeps in documents.text)"),
    ("backend", "string", "offline or llm"),
    ("model", "string", "model name (llm)"),
    ("company", "string", "company the writeup is about"),
    ("n_tools", "int64", "number of tools"),
    ("stack_json", "string", "the Stack as JSON (null unless status is ok)"),
    ("prompt_tokens", "int64", "prompt tokens used"),
    ("completion_tokens", "int64", "completion tokens used"),
    ("total_tokens", "int64", "total tokens used"),
    ("requests", "int64", "model requests made"),
    ("duration_s", "float64", "seconds spent on this document in its worker"),
    ("error_stage", "string", "input, fetch, clean, cache, extract or ground (failed rows)"),
    ("error_type", "string", "exception type (failed rows)"),
    ("error_message", "string", "one-line message (failed rows)"),
    ("error_attempts", "int64", "attempts made before giving up (failed rows)"),
    ("worker", "string", "pid@host of the worker that made the row"),
)
NAMES = tuple(name for name, _, _ in COLUMNS)
_INTS = frozenset(name for name, kind, _ in COLUMNS if kind == "int64")
_FLOATS = frozenset(name for name, kind, _ in COLUMNS if kind == "float64")
_DOCUMENT_FIELDS = ("url", "final_url", "path", "title", "author", "published", "site_name",
                    "language", "format", "content_sha256", "text")


@dataclass(frozen=True)
class Done:
    """What an earlier run already holds under one configuration: skip these sources
    without fetching, and texts with these hashes without calling the model."""

    sources: frozenset[str] = field(default_factory=frozenset)
    hashes: frozenset[str] = field(default_factory=frozenset)

    def __or__(self, other: Done) -> Done:
        return Done(self.sources | other.sources, self.hashes | other.hashes)

    def __len__(self) -> int:
        return len(self.sources)


def arrow_schema() -> Any:
    """The pyarrow schema of a results table (every part file has the same one)."""
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    return pa.schema([(name, types[kind]) for name, kind, _ in COLUMNS])


def _worker() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


def _blank(source: str, config_key: str, status: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(NAMES)
    row.update(source=source, status=status, config_key=config_key, worker=_worker())
    return row


def _with_document(row: dict[str, Any], doc: Document) -> dict[str, Any]:
    for name in _DOCUMENT_FIELDS:
        row[name] = getattr(doc, name)
    return row


def ok_row(source: str, doc: Document, stack: Stack, *, config_key: str,
           duration_s: float) -> dict[str, Any]:
    row = _with_document(_blank(source, config_key, OK), doc)
    p = stack.provenance
    row.update(
        backend=p.backend, model=p.model, company=stack.company, n_tools=len(stack.tools),
        stack_json=stack.model_dump_json(), prompt_tokens=p.usage.prompt_tokens,
        completion_tokens=p.usage.completion_tokens, total_tokens=p.usage.total_tokens,
        requests=p.usage.requests, duration_s=round(duration_s, 4),
    )
    return row


def duplicate_row(source: str, doc: Document, *, config_key: str,
                  duration_s: float) -> dict[str, Any]:
    row = _with_document(_blank(source, config_key, DUPLICATE), doc)
    row["duration_s"] = round(duration_s, 4)
    return row


def blocked_row(source: str, *, config_key: str, duration_s: float = 0.0) -> dict[str, Any]:
    row = _blank(source, config_key, BLOCKED)
    row["duration_s"] = round(duration_s, 4)
    return row


def failed_row(source: str, exc: BaseException, *, config_key: str,
               duration_s: float = 0.0) -> dict[str, Any]:
    stage, kind, message, attempts = failure_fields(exc)
    return failed_fields_row(source, stage, kind, message, attempts, config_key=config_key,
                             duration_s=duration_s)


def failed_fields_row(source: str, stage: str, kind: str, message: str, attempts: int, *,
                      config_key: str, duration_s: float = 0.0) -> dict[str, Any]:
    row = _blank(source, config_key, FAILED)
    row.update(error_stage=stage, error_type=kind, error_message=message,
               error_attempts=attempts, duration_s=round(duration_s, 4))
    return row


def clean_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A row read back from a part file, with JSONL's floats and NaNs made ints and None."""
    row = {name: raw.get(name) for name in NAMES}
    for name, value in row.items():
        if isinstance(value, float) and value != value:  # NaN: pandas' missing value
            row[name] = None
        elif name in _INTS and value is not None:
            row[name] = int(value)
        elif name in _FLOATS and value is not None:
            row[name] = float(value)
    return row


def document_of(row: Mapping[str, Any]) -> Document:
    """The Document a row carries (ok and duplicate rows)."""
    return Document(**{name: row[name] for name in _DOCUMENT_FIELDS if row.get(name) is not None})


def stack_of(row: Mapping[str, Any]) -> Stack:
    return Stack.model_validate_json(row["stack_json"])


def to_jsonable(row: Mapping[str, Any]) -> str:
    return json.dumps(dict(row), ensure_ascii=False)
