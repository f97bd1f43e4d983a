"""Batch: many sources on one machine, concurrent, resumable, cached.

Takes: URL lists, files, folders. Gives: every document fetched, cleaned, extracted,
grounded and stored in its own transaction, failures recorded, and a `BatchSummary`.
Cleaning and the offline extractor run in a process pool; model calls in forked
processes (shards) so that client CPU does not hold the model back.
"""

from __future__ import annotations

from stackextract.batch.runner import BatchSummary, arun_batch, run_batch, warm_up

__all__ = ["BatchSummary", "arun_batch", "run_batch", "warm_up"]
