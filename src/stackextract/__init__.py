"""stackextract: tech-stack writeups in, grounded records out.

    import stackextract
    stack = stackextract.extract("https://example.com/our-stack")   # or a path, or text
    stackextract.Store("stacks.db").save(document, stack, config_key=...)
    stackextract.run_batch(["urls.txt"], db="stacks.db")             # many sources, resumable

The stages are subpackages, in the order a document passes through them: sources (fetch,
clean), catalog, offline / llm (extractors), grounding, store, batch, evaluation, cli.
Only the records and errors load with the package; each entry point imports its stage on
first use, so `import stackextract` stays light (no sqlite_utils, openai or trafilatura).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stackextract._version import __version__
from stackextract.errors import (
    BlockedURLError,
    CleanError,
    ConfigError,
    ExtractionError,
    FetchError,
    InputError,
    StackExtractError,
    StoreError,
)
from stackextract.models import (
    Category,
    Document,
    Evidence,
    Migration,
    Provenance,
    Reason,
    Regret,
    Source,
    Stack,
    Status,
    Tool,
    Usage,
)

if TYPE_CHECKING:
    from stackextract import review
    from stackextract.batch import BatchSummary, arun_batch, run_batch
    from stackextract.catalog import Catalog, CatalogEntry
    from stackextract.extractors import Extractor, get_extractor
    from stackextract.grounding import ground_stack
    from stackextract.pipeline import aextract, extract
    from stackextract.sources import aload, load
    from stackextract.store import Store

# public name -> the module that defines it (imported on first access)
_LAZY = {
    "BatchSummary": "stackextract.batch", "arun_batch": "stackextract.batch",
    "run_batch": "stackextract.batch",
    "Catalog": "stackextract.catalog", "CatalogEntry": "stackextract.catalog",
    "Extractor": "stackextract.extractors", "get_extractor": "stackextract.extractors",
    "ground_stack": "stackextract.grounding",
    "aextract": "stackextract.pipeline", "extract": "stackextract.pipeline",
    "aload": "stackextract.sources", "load": "stackextract.sources",
    "Store": "stackextract.store",
    "review": "stackextract.review",  # the subpackage itself, callable: review(src, out)
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stackextract' has no attribute {name!r}")
    value = importlib.import_module(module)
    if name != "review":
        value = getattr(value, name)
    globals()[name] = value
    return value


def _stack_repr_html(self: Stack) -> str:
    """A Stack in a notebook: the review page's view (text marked when attached)."""
    from stackextract.review import notebook_html

    return notebook_html(self)


# The records know nothing of the review stage; the package's face wires the view in.
Stack._repr_html_ = _stack_repr_html  # type: ignore[attr-defined]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BatchSummary", "BlockedURLError", "Catalog", "CatalogEntry", "Category", "CleanError",
    "ConfigError",
    "Document", "Evidence", "ExtractionError", "Extractor", "FetchError", "InputError",
    "Migration", "Provenance", "Reason", "Regret", "Source", "Stack", "StackExtractError",
    "Status", "Store", "StoreError", "Tool", "Usage", "__version__", "aextract", "aload",
    "arun_batch", "extract", "get_extractor", "ground_stack", "load", "review", "run_batch",
]
