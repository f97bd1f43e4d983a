"""Review: extractions as pages a person can check, and the migration graph as text.

Takes a Stack with its document text (one page), or a stackextract database (an index page
plus one page per document); gives self-contained HTML files (inline CSS, one small script,
a strict Content-Security-Policy, everything from the page escaped) and the migration graph
as Graphviz DOT or Mermaid. See docs/review.md.

    stackextract.review("writeup.html", "review.html")     # extract (offline/auto) and review
    stackextract.review("stacks.db", "review/")           # index.html + docs/<id>.html
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from stackextract.errors import InputError
from stackextract.models import Document, Stack
from stackextract.review import graph
from stackextract.review._html import attr
from stackextract.review.index import DatabaseReview, layout, write_database_review
from stackextract.review.page import LOW_CONFIDENCE, fragment, render_stack

__all__ = [
    "LOW_CONFIDENCE", "DatabaseReview", "fragment", "graph", "graph_text", "is_database",
    "layout", "notebook_html", "render_stack", "review", "write_database_review",
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
    source: str | Path, backend: str | None, allow_private: bool, **settings: Any
) -> tuple[Document, Stack]:
    """Load and extract one source (review sits above the pipeline, so it may call it)."""
    from stackextract.pipeline import extract
    from stackextract.sources.load import load

    document = load(source, allow_private=allow_private)
    return document, extract(document, backend=backend, **settings)


def review(source: str | Path | Stack, output: str | Path, *, prefix: str = "",
           backend: str | None = None, allow_private: bool = False, **settings: Any) -> Path:
    """Write the review of a database (index + pages), of one source, or of a Stack.

    A SQLite file is reviewed as stored (latest extraction per document, `prefix` for
    shared databases); a Stack as it is (with the text `extract` attached to it, if any);
    anything else is loaded and extracted first (`backend` and `settings` as for
    `stackextract.extract`). Returns the path of the page to open.
    """
    from stackextract.review.index import _write

    if isinstance(source, Stack):
        stack, text = source, source.attached_text()
    elif is_database(source):
        return write_database_review(source, output, prefix=prefix).index
    else:
        document, stack = _extract(source, backend, allow_private, **settings)
        text = document.text
    out = Path(output)
    if out.is_dir():
        out = out / "review.html"
    _write(out, render_stack(stack, text))
    return out


def graph_text(source: str | Path, fmt: str, *, prefix: str = "", backend: str | None = None,
               allow_private: bool = False, **settings: Any) -> str:
    """The migration graph of a database (or of one source) as `dot` or `mermaid` text."""
    if fmt not in ("dot", "mermaid"):
        raise InputError(f"unknown graph format {fmt!r}: use dot or mermaid")
    if is_database(source):
        from stackextract.review.index import _stream
        from stackextract.store import Store

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


def notebook_html(stack: Stack, text: str | None = None) -> str:
    """The review page of one Stack inside a sandboxed <iframe srcdoc> (its CSS and script
    stay inside). Uses `text`, else the text `extract` attached, else shows quotes alone."""
    page = render_stack(stack, text if text is not None else stack.attached_text())
    return (f'<iframe sandbox="allow-scripts" srcdoc={attr(page)} '
            'style="width:100%;height:640px;border:1px solid #ddd"></iframe>')


class _CallableModule(types.ModuleType):
    """`stackextract.review(...)` calls `review()`, whether the name was first reached as the
    subpackage or as the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Path:
        return review(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
