"""The schema the model fills, and its mapping into `models.Stack`.

It is smaller than `Stack` (no offsets, no provenance) and every string and list is
bounded: a grammar-constrained server (llama.cpp) turns the bounds into its grammar, so a
small model cannot repeat itself until `max_tokens`. Over-long values are cut rather than
rejected, so that servers without grammars do not cost a re-ask for a long quote. Every item
carries a verbatim `quote`, which grounding later looks up in the text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from instructor import OpenAISchema
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from stackextract.models import (
    Category,
    Document,
    Evidence,
    Migration,
    Provenance,
    Reason,
    Regret,
    Stack,
    Status,
    Tool,
)

if TYPE_CHECKING:
    from stackextract.catalog.vocabulary import Catalog

# Bounds sized so that a maximal answer (~12k characters, ~4k tokens) fits the default
# max_tokens: a grammar-constrained small model that fills every list still finishes.
NAME_MAX = 40
TEXT_MAX = 100
QUOTE_MAX = 160
TOOLS_MAX = 20
ITEMS_MAX = 4
WHY_MAX = 2
NAME_WORDS_MAX = 4

STATUSES = tuple(s.value for s in Status)
CATEGORIES = tuple(c.value for c in Category)
StatusName = Literal["uses", "used_previously", "evaluated", "planned"]
CategoryName = Literal[
    "language", "frontend", "backend", "mobile", "database", "cache", "search", "queue",
    "data_warehouse", "data_pipeline", "orchestration", "analytics", "bi", "ml", "ai_api",
    "cloud", "compute", "containers", "iac", "ci_cd", "monitoring", "logging",
    "error_tracking", "security", "auth", "testing", "collaboration", "payments",
    "communication", "cms", "other",
]  # fmt: skip
assert set(CategoryName.__args__) == set(CATEGORIES)  # type: ignore[attr-defined]

_STATUS_ALIASES = {
    "use": "uses", "used": "uses", "using": "uses", "current": "uses", "in_use": "uses",
    "previous": "used_previously", "previously_used": "used_previously",
    "former": "used_previously", "replaced": "used_previously", "deprecated": "used_previously",
    "tried": "evaluated", "considered": "evaluated", "evaluating": "evaluated",
    "plan": "planned", "planning": "planned", "future": "planned",
}  # fmt: skip


def _cut(limit: int) -> BeforeValidator:
    def cut(value: Any) -> Any:
        if isinstance(value, str):
            return " ".join(value.split())[:limit]
        return value

    return BeforeValidator(cut)


def _first(limit: int) -> BeforeValidator:
    def first(value: Any) -> Any:
        return value[:limit] if isinstance(value, list) else value

    return BeforeValidator(first)


def _status(value: Any) -> Any:
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        key = _STATUS_ALIASES.get(key, key)
        return key if key in STATUSES else "uses"
    return value


def _category(value: Any) -> Any:
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "_").replace("-", "_").replace("/", "_")
        return key if key in CATEGORIES else "other"
    return value


def _optional_name(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("", "null", "none", "n/a"):
        return None
    return value


Name = Annotated[str, _cut(NAME_MAX), Field(min_length=1, max_length=NAME_MAX)]
Text = Annotated[str, _cut(TEXT_MAX), Field(max_length=TEXT_MAX)]
Quote = Annotated[
    str,
    _cut(QUOTE_MAX),
    Field(max_length=QUOTE_MAX, description="Exact words copied from the text."),
]
OptionalName = Annotated[
    Annotated[str, _cut(NAME_MAX), Field(max_length=NAME_MAX)] | None,
    BeforeValidator(_optional_name),
]


class _LLMRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LLMTool(_LLMRecord):
    name: Name
    status: Annotated[StatusName, BeforeValidator(_status)]
    category: Annotated[CategoryName, BeforeValidator(_category)]
    quote: Quote


class LLMReason(_LLMRecord):
    tool: Name
    text: Text
    quote: Quote


class LLMRegret(_LLMRecord):
    tool: Name
    text: Text
    would_instead: OptionalName = None
    quote: Quote


class LLMMigration(_LLMRecord):
    from_tool: Name
    to_tool: Name
    why: Annotated[list[Text], _first(WHY_MAX), Field(max_length=WHY_MAX)] = Field(
        default_factory=list
    )
    quote: Quote


class ExtractedStack(_LLMRecord, OpenAISchema):
    """A technology stack found in one part of a writeup."""

    company: OptionalName = None
    tools: Annotated[list[LLMTool], _first(TOOLS_MAX), Field(max_length=TOOLS_MAX)]
    reasons: Annotated[list[LLMReason], _first(ITEMS_MAX), Field(max_length=ITEMS_MAX)] = Field(
        default_factory=list
    )
    regrets: Annotated[list[LLMRegret], _first(ITEMS_MAX), Field(max_length=ITEMS_MAX)] = Field(
        default_factory=list
    )
    migrations: Annotated[
        list[LLMMigration], _first(ITEMS_MAX), Field(max_length=ITEMS_MAX)
    ] = Field(default_factory=list)

    _schema: ClassVar[str | None] = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON Schema, built once instead of on every model call.

        instructor asks for it per request, and generating it costs milliseconds of CPU: in a
        batch at concurrency 16 that is what keeps the event loop behind the model server.
        Non-default arguments take pydantic's normal path.
        """
        if args or kwargs:
            return super().model_json_schema(*args, **kwargs)
        if cls.__dict__.get("_schema") is None:
            cls._schema = json.dumps(super().model_json_schema())
        return json.loads(cls.__dict__["_schema"])  # a fresh copy: callers may change it


def _evidence(quote: str) -> list[Evidence]:
    return [Evidence(quote=quote)] if quote.strip() else []


def to_stack(
    extracted: ExtractedStack,
    document: Document,
    *,
    provenance: Provenance,
    catalog: Catalog | None = None,
) -> Stack:
    """Map the model's answer into a `Stack` (canonical names from the catalog, quotes ungrounded).

    Grounding (spans, dropping names absent from the text) is the pipeline's job.
    """
    from stackextract.catalog.vocabulary import clean_name

    def canonical(name: str) -> tuple[str, Category | None]:
        entry = catalog.lookup(name) if catalog is not None else None
        if entry is not None:
            return entry.name, entry.category
        return clean_name(name), None

    not_tools = {
        n.casefold() for n in (document.title, document.site_name, extracted.company) if n
    }
    tools = []
    seen: set[str] = set()
    for item in extracted.tools:
        name = clean_name(item.name)
        # small models name the page title, the company or a phrase as a tool
        if not name or name.casefold() in not_tools or len(name.split()) > NAME_WORDS_MAX:
            continue
        canon, category = canonical(name)
        key = canon.casefold()
        if key in seen:
            continue
        seen.add(key)
        tools.append(
            Tool(
                name=name,
                canonical=canon,
                category=category or Category(item.category),
                status=Status(item.status),
                in_catalog=category is not None,
                evidence=_evidence(item.quote),
            )
        )
    reasons = [
        Reason(tool=clean_name(r.tool), text=r.text or r.quote, evidence=_evidence(r.quote))
        for r in extracted.reasons
        if clean_name(r.tool)
    ]
    regrets = [
        Regret(
            tool=clean_name(r.tool),
            text=r.text or r.quote,
            would_instead=clean_name(r.would_instead) if r.would_instead else None,
            evidence=_evidence(r.quote),
        )
        for r in extracted.regrets
        if clean_name(r.tool)
    ]
    migrations = [
        Migration(
            from_tool=clean_name(m.from_tool),
            to_tool=clean_name(m.to_tool),
            reasons=[w for w in m.why if w.strip()],
            evidence=_evidence(m.quote),
        )
        for m in extracted.migrations
        if clean_name(m.from_tool)
        and clean_name(m.to_tool)
        and clean_name(m.from_tool).casefold() != clean_name(m.to_tool).casefold()
    ]
    return Stack(
        source=document.to_source(),
        company=clean_name(extracted.company) if extracted.company else None,
        tools=tools,
        reasons=reasons,
        regrets=regrets,
        migrations=migrations,
        provenance=provenance,
    )
