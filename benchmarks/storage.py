"""Database size per document: an offline batch of the corpus writeups and the article pages.

    .venv/bin/python benchmarks/storage.py

Stores ../shared/corpus (the writeups) and the 181 article-extraction pages with the offline
backend into a fresh SQLite file, checkpoints the WAL, and prints the file's KB per document
with what the biggest parts hold: the documents' text (and its full-text index) and
`extractions.stack_json` (the whole Stack; the item tables hold its items too).
"""

from __future__ import annotations

import gzip
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from stackextract.batch.runner import run_batch

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("STACKEXTRACT_SHARED") or ROOT.parent / "shared")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for page in sorted((SHARED / "benchmarks" / "article-extraction" / "html").glob("*.gz")):
            (src / page.name.removesuffix(".gz")).write_bytes(gzip.decompress(page.read_bytes()))
        for doc in sorted((SHARED / "corpus").iterdir()):
            if doc.is_file():
                (src / doc.name).write_bytes(doc.read_bytes())
        db = Path(tmp) / "s.db"
        summary = run_batch([src], db=db, backend="offline", progress=False)
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            n = conn.execute("SELECT COUNT(*) FROM extractions").fetchone()[0]
            text = conn.execute(
                "SELECT SUM(LENGTH(CAST(text AS BLOB))) FROM documents"
            ).fetchone()[0]
            stack = conn.execute("SELECT SUM(LENGTH(stack_json)) FROM extractions").fetchone()[0]
        size = db.stat().st_size
    print(f"$ {Path(sys.executable).name} benchmarks/storage.py")
    print(f"documents stored: {n} ({summary.failed} failed)")
    print(f"database: {size / n / 1024:.1f} KB per document ({size / 1024 / 1024:.1f} MB)")
    print(f"documents.text: {text / n / 1024:.1f} KB per document")
    print(f"extractions.stack_json: {stack / n / 1024:.1f} KB per document")


if __name__ == "__main__":
    main()
