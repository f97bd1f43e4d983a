"""Exports for other systems: JSONL of Stacks (valid against schemas/) and one CSV per table."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from stackextract.errors import StoreError
from stackextract.store.database import TABLES, Store, stack_json_text, unpack_stack


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


def export_jsonl(
    store: Store,
    fp_or_path: str | Path | IO[str],
    *,
    latest: bool = True,
    skipped: list[int] | None = None,
) -> int:
    """Write one Stack per line (the latest per source by default); return the line count.

    A row whose stack_json is not a valid Stack (damaged, or written by another tool) is
    skipped, and its extraction id appended to `skipped`: one bad row does not stop the
    export of the others."""
    from pydantic import ValidationError

    table = store.t("latest_stacks") if latest else store.t("extractions")
    key = "extraction_id" if latest else "id"
    n = 0
    with _text_out(fp_or_path) as fp:
        try:
            rows = store.db.conn.execute(
                f'SELECT "{key}", stack_json FROM "{table}" ORDER BY "{key}"'
            )
            for ident, raw in rows:
                try:
                    stack = unpack_stack(raw if raw is not None else "")
                except (StoreError, ValidationError, ValueError, TypeError, RecursionError):
                    if skipped is not None:
                        skipped.append(int(ident))
                    continue
                fp.write(stack.model_dump_json())
                fp.write("\n")
                n += 1
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read stacks from {store.path}: {exc}") from exc
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
            packed = header.index("stack_json") if "stack_json" in header else None
            for row in cur:
                if packed is not None:  # the CSV holds the Stack's JSON text, not zlib bytes
                    row = (*row[:packed], stack_json_text(row[packed]), *row[packed + 1 :])
                writer.writerow(row)
        written[name] = path
    return written


def jsonl_string(store: Store, *, latest: bool = True) -> str:
    """The JSONL export as a string (small databases, tests, notebooks)."""
    buf = io.StringIO()
    export_jsonl(store, buf, latest=latest)
    return buf.getvalue()
