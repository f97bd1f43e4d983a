"""Exports for other systems: JSONL of Stacks (valid against schemas/) and one CSV per table."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from stackextract.errors import StoreError
from stackextract.store.database import TABLES, Store


@contextmanager
def _text_out(fp_or_path: str | Path | IO[str]) -> Iterator[IO[str]]:
    if isinstance(fp_or_path, (str, Path)):
        try:
            with open(fp_or_path, "w", encoding="utf-8", newline="\n") as fp:
                yield fp
        except OSError as exc:
            raise StoreError(
                f"cannot write {fp_or_path}: {exc.strerror}; choose another output path"
            ) from exc
    else:
        yield fp_or_path


def export_jsonl(store: Store, fp_or_path: str | Path | IO[str], *, latest: bool = True) -> int:
    """Write one Stack per line (the latest per source by default); return the line count."""
    n = 0
    with _text_out(fp_or_path) as fp:
        for stack in store.stacks(latest=latest):
            fp.write(stack.model_dump_json())
            fp.write("\n")
            n += 1
    return n


def export_csv(
    store: Store, directory: str | Path, *, tables: tuple[str, ...] = TABLES
) -> dict[str, Path]:
    """Write `<table>.csv` (names without the prefix) into `directory`; return the paths."""
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create {out}: {exc.strerror}; choose another output directory"
        ) from exc
    written: dict[str, Path] = {}
    for name in tables:
        path = out / f"{name}.csv"
        cur = store.db.conn.execute(f'SELECT * FROM "{store.t(name)}" ORDER BY rowid')
        header = [d[0] for d in cur.description]
        with _text_out(path) as fp:
            writer = csv.writer(fp)
            writer.writerow(header)
            for row in cur:
                writer.writerow(row)
        written[name] = path
    return written


def jsonl_string(store: Store, *, latest: bool = True) -> str:
    """The JSONL export as a string (small databases, tests, notebooks)."""
    buf = io.StringIO()
    export_jsonl(store, buf, latest=latest)
    return buf.getvalue()
