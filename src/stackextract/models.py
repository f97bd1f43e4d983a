"""The records stackextract produces (pydantic v2): the contract with every consumer."""

from __future__ import annotations

import hashlib
import json
import weakref
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"


def config_hash(*, backend: str, model: str | None, prompt_version: str | None,
                **extra: Any) -> str:
    """The cache key of an extraction configuration: same key, same output for same text."""
    payload = {
        "backend": backend, "model": model, "prompt_version": prompt_version,
        "schema_version": SCHEMA_VERSION, **extra,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


class Category(str, Enum):
    """What kind of tool it is; the enum of DESIGN.md."""

    language = "language"
    frontend = "frontend"
    backend = "backend"
    mobile = "mobile"
    database = "database"
    cache = "cache"
    search = "search"
    queue = "queue"
    data_warehouse = "data_warehouse"
    data_pipeline = "data_pipeline"
    orchestration = "orchestration"
    analytics = "analytics"
    bi = "bi"
    ml = "ml"
    ai_api = "ai_api"
    cloud = "cloud"
    compute = "compute"
    containers = "containers"
    iac = "iac"
    ci_cd = "ci_cd"
    monitoring = "monitoring"
    logging = "logging"
    error_tracking = "error_tracking"
    security = "security"
    auth = "auth"
    testing = "testing"
    collaboration = "collaboration"
    payments = "payments"
    communication = "communication"
    cms = "cms"
    other = "other"


class Status(str, Enum):
    """A tool's relation to the team at the time of writing."""

    uses = "uses"
    used_previously = "used_previously"
    evaluated = "evaluated"
    planned = "planned"


class _Record(BaseModel):
    # schemas are built on a model's first use, not at import: a one-shot extract builds only
    # the ones it uses (docs/performance.md, start-up)
    model_config = ConfigDict(extra="forbid", use_enum_values=False, defer_build=True)


class Evidence(_Record):
    """A verbatim span of the source; `start`/`end` index `Document.text` once grounded."""

    quote: str
    start: int | None = None
    end: int | None = None
    grounded: bool = False
    match: str | None = Field(
        default=None, description="How the quote was located: exact, normalized or fuzzy."
    )


class Tool(_Record):
    name: str = Field(description="The name as written in the source.")
    canonical: str = Field(description="Catalog name, or the cleaned name when unknown.")
    category: Category = Category.other
    status: Status = Status.uses
    purpose: str | None = None
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    in_catalog: bool = True
    evidence: list[Evidence] = Field(default_factory=list)

    @property
    def grounded(self) -> bool:
        return any(e.grounded for e in self.evidence)


class Reason(_Record):
    tool: str
    text: str
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)


class Regret(_Record):
    tool: str
    text: str
    would_instead: str | None = None
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)


class Migration(_Record):
    from_tool: str
    to_tool: str
    reasons: list[str] = Field(default_factory=list)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)


class Source(_Record):
    """Where the text came from; enough to find it again and to know it has not changed."""

    url: str | None = None
    final_url: str | None = None
    path: str | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = Field(default=None, description="ISO date as found in the page.")
    site_name: str | None = None
    language: str | None = None
    content_sha256: str


class Usage(_Record):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    requests: int = 0
    attempts: int = 0


class Provenance(_Record):
    """How a Stack was made, so results from different runs can be told apart."""

    backend: str
    model: str | None = None
    prompt_version: str | None = None
    schema_version: str = SCHEMA_VERSION
    stackextract_version: str | None = None
    usage: Usage = Field(default_factory=Usage)
    duration_s: float = 0.0
    dropped_items: int = Field(default=0, description="Items removed because ungrounded.")
    chunks: int = 1
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat())


class Stack(_Record):
    """Everything extracted from one document."""

    source: Source
    company: str | None = None
    relevance: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="How likely the document is a team's stack writeup (offline model); "
        "None where the backend does not score it.",
    )
    tools: list[Tool] = Field(default_factory=list)
    reasons: list[Reason] = Field(default_factory=list)
    regrets: list[Regret] = Field(default_factory=list)
    migrations: list[Migration] = Field(default_factory=list)
    provenance: Provenance

    def attach_text(self, text: str) -> Stack:
        """Keep the document's text beside this Stack (not in its JSON, not in ==), so that
        its HTML view (`_repr_html_`, wired in by the package) can mark quotes in place."""
        key = id(self)
        if key not in _TEXTS:
            weakref.finalize(self, _TEXTS.pop, key, None)
        _TEXTS[key] = text
        return self

    def attached_text(self) -> str | None:
        """The text given to `attach_text` (`extract` attaches it), else None."""
        return _TEXTS.get(id(self))

    def to_dataframe(self, kind: str = "tools") -> Any:
        """A pandas DataFrame of one kind of item (tools, reasons, regrets or migrations),
        one row each, with the source URL/title and the first grounded quote. pandas is not
        a dependency: install it to use this."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is in the dev extra
            raise ImportError("Stack.to_dataframe needs pandas: pip install pandas") from exc
        if kind not in ("tools", "reasons", "regrets", "migrations"):
            raise ValueError(f"kind must be tools, reasons, regrets or migrations, not {kind!r}")
        base = {"source_url": self.source.final_url or self.source.url,
                "source_path": self.source.path, "title": self.source.title,
                "company": self.company}
        rows = []
        for item in getattr(self, kind):
            row = base | item.model_dump(mode="json", exclude={"evidence"})
            first = next((e for e in item.evidence if e.grounded),
                         item.evidence[0] if item.evidence else None)
            row |= {"grounded": any(e.grounded for e in item.evidence),
                    "quote": first.quote if first else None,
                    "quote_start": first.start if first else None,
                    "quote_end": first.end if first else None}
            rows.append(row)
        fields = [f for f in _KINDS[kind].model_fields if f != "evidence"]
        columns = [*base, *fields, "grounded", "quote", "quote_start", "quote_end"]
        return pd.DataFrame(rows, columns=columns)

    def tool(self, name: str) -> Tool | None:
        """The tool whose name or canonical name equals `name`, case-insensitively."""
        wanted = name.casefold()
        for t in self.tools:
            if wanted in (t.name.casefold(), t.canonical.casefold()):
                return t
        return None


_TEXTS: dict[int, str] = {}  # id(stack) -> its document text; freed with the Stack
_KINDS: dict[str, type[_Record]] = {"tools": Tool, "reasons": Reason, "regrets": Regret,
                                    "migrations": Migration}


class Document(_Record):
    """Cleaned text plus metadata: what every extractor reads."""

    text: str
    format: str = Field(default="text", description="html, markdown or text: how it was read.")
    url: str | None = None
    final_url: str | None = None
    path: str | None = None
    title: str | None = None
    author: str | None = None
    published: str | None = None
    site_name: str | None = None
    language: str | None = None
    content_sha256: str = ""

    def model_post_init(self, __context: Any) -> None:
        if not self.content_sha256:
            self.content_sha256 = sha256_text(self.text)

    def to_source(self) -> Source:
        return Source(
            url=self.url,
            final_url=self.final_url,
            path=self.path,
            title=self.title,
            author=self.author,
            published=self.published,
            site_name=self.site_name,
            language=self.language,
            content_sha256=self.content_sha256,
        )


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
