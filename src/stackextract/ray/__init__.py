"""Batch extraction on a Ray cluster: a `ray.data.Dataset` of sources in, a Dataset of
result rows out (one per document: metadata, content hash, the Stack as JSON, usage, or the
failure), written as Parquet or JSONL and imported into the SQLite store by `import_parts`.

Takes: rows with `url`, `path`, `html` or `text` (and an optional `source` key).
Gives: `extract_dataset` (the Dataset), `run_job` (the CLI's `batch --engine ray`),
`import_parts` (`stackextract import`), `read_done` (what a previous output already holds).

Ray itself is imported only by `extract_dataset`/`run_job` (install `stackextract[ray]`);
reading and importing parts needs pyarrow for Parquet and nothing for JSONL.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "extract_dataset": "stackextract.ray.dataset",
    "run_job": "stackextract.ray.dataset",
    "JobSummary": "stackextract.ray.dataset",
    "import_parts": "stackextract.ray.parts",
    "ImportSummary": "stackextract.ray.parts",
    "read_done": "stackextract.ray.parts",
    "Done": "stackextract.ray.rows",
    "COLUMNS": "stackextract.ray.rows",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a submodule on first use: `import stackextract.ray` stays free of Ray."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stackextract.ray' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
