"""stackextract: tech-stack writeups in, grounded records out.

    import stackextract
    stack = stackextract.extract("https://example.com/our-stack")   # or a path, or text
    stackextract.Store("stacks.db").save(document, stack, config_key=...)
    stackextract.run_batch(["urls.txt"], db="stacks.db")             # many sources, resumable
"""

from __future__ import annotations

__version__ = "0.1.0"

from .batch import BatchSummary, arun_batch, run_batch
from .catalog import Catalog, CatalogEntry
from .errors import (
    BlockedURLError,
    CleanError,
    ConfigError,
    ExtractionError,
    FetchError,
    InputError,
    StackExtractError,
    StoreError,
)
from .extractors import Extractor, get_extractor
from .grounding import ground_stack
from .load import aload, load
from .models import (
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
from .pipeline import aextract, extract
from .store import Store

__all__ = [
    "BatchSummary", "BlockedURLError", "Catalog", "CatalogEntry", "Category", "CleanError",
    "ConfigError",
    "Document", "Evidence", "ExtractionError", "Extractor", "FetchError", "InputError",
    "Migration", "Provenance", "Reason", "Regret", "Source", "Stack", "StackExtractError",
    "Status", "Store", "StoreError", "Tool", "Usage", "__version__", "aextract", "aload",
    "arun_batch", "extract", "get_extractor", "ground_stack", "load", "run_batch",
]
