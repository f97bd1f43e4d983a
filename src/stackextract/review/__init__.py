"""Review: extractions as pages a person can check, and the migration graph as text.

Takes a Stack with its document text (one page), or a stackextract database (an index page
plus one page per document); gives self-contained HTML files (inline CSS, one small script,
a strict Content-Security-Policy, everything from the page escaped) and the migration graph
as Graphviz DOT or Mermaid. See docs/review.md.

    stackextract.review("writeup.html", "review.html")     # extract (offline/auto) and review
    stackextract.review("stacks.db", "review/")           # index.html + docs/<id>.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models import Document, Stack
from . import graph
from .index import DatabaseReview, layout, write_database_review
from .page import LOW_CONFIDENCE, fragment, render_stack

__all__ = [
    "LOW_CONFIDENCE", "DatabaseReview", "fragment", "graph", "graph_text", "is_database",
    "layout", "render_stack", "review", "write_database_review",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"


def is_database(source: str | Path) -> bool:
    """True when `source` is an existing SQLite file (by its header, not its name)."""
    path = Path(source)
    try:
        with path.open("rb") as fh:
            return fh.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _extract(
    source: str | Path, backend: str, allow_private: bool, **settings: Any
) -> tuple[Document, Stack]:
    """Load and extract one source (review sits above the pipeline, so it may call it)."""
    from ..load import load
    from ..pipeline import extract

    document = load(source, allow_private=allow_private)
    return document, extract(document, backend=backend, **settings)


def review(source: str | Path, output: str | Path, *, prefix: str = "",
           backend: str = "auto", allow_private: bool = False, **settings: Any) -> Path:
    """Write the review of a database (index + pages) or of one source (one page).

    A SQLite file is reviewed as stored (latest extraction per document, `prefix` for
    shared databases); anything else is loaded and extracted first (`backend` and
    `settings` as for `stackextract.extract`). Returns the path of the page to open.
    """
    if is_database(source):
        return write_database_review(source, output, prefix=prefix).index
    document, stack = _extract(source, backend, allow_private, **settings)
    out = Path(output)
    if out.is_dir():
        out = out / "review.html"
    from .index import _write

    _write(out, render_stack(stack, document.text))
    return out


def graph_text(source: str | Path, fmt: str, *, prefix: str = "", backend: str = "auto",
               allow_private: bool = False, **settings: Any) -> str:
    """The migration graph of a database (or of one source) as `dot` or `mermaid` text."""
    if fmt not in ("dot", "mermaid"):
        raise InputError(f"unknown graph format {fmt!r}: use dot or mermaid")
    if is_database(source):
        from ..store import Store
        from .index import _stream

        store = Store(source, prefix=prefix, read_only=True)
        try:
            g = graph.build((str(doc_id), src, stack)
                            for doc_id, src, stack, _ in _stream(store))
        finally:
            store.close()
    else:
        document, stack = _extract(source, backend, allow_private, **settings)
        g = graph.build([(document.content_sha256, stack.source.title or "", stack)])
    return graph.to_dot(g) if fmt == "dot" else graph.to_mermaid(g)
