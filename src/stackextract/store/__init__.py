"""Storage: grounded Stacks into SQLite (sqlite-utils), and out again.

Takes: a `Document` and its `Stack`. Gives: rows in `documents`, `extractions`, `tools`,
`reasons`, `regrets`, `migrations`, `failures` (optionally prefixed, inside another tool's
database), views and full-text search (database); JSONL and CSV exports (export); the JSON
Schema contract of the records (json_schema).
"""

from __future__ import annotations

from stackextract.store.database import TABLES, SaveResult, Store, source_key

__all__ = ["TABLES", "SaveResult", "Store", "source_key"]
