"""Result parts (Parquet or JSONL, as Ray writes them) into the SQLite store, and the
"already done" set of a previous output or a store, for resuming.

The import goes through `Store.save` and `Store.record_failure`, the calls `stackextract
batch` makes, so the tables, keys, cache and dedupe are the batch's: a document already
stored is not stored again, and importing the same parts twice adds nothing.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stackextract.errors import InputError, StoreError, one_line
from stackextract.ray import rows as R
from stackextract.store.database import Store

PART_SUFFIXES = (".parquet", ".json", ".jsonl")
_ROWS_PER_TRANSACTION = 500
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class ImportSummary:
    """What an import did. `stored`: new documents/extractions; `already`: rows whose
    document was stored before (a re-import); `unresolved`: duplicates whose original
    extraction is in no imported part and not in the store (recorded as failures)."""

    files: int = 0
    rows: int = 0
    stored: int = 0
    already: int = 0
    reused: int = 0
    failures: int = 0
    blocked: int = 0  # sources robots.txt kept out (recorded as batch records them)
    unresolved: int = 0
    bad_files: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.bad_files or self.unresolved else 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        text = (
            f"{self.files} part files, {self.rows} rows: {self.stored} stored, "
            f"{self.already} already stored, {self.reused} reused by content hash, "
            f"{self.failures} failures recorded"
        )
        if self.blocked:
            text += f", {self.blocked} kept out by robots.txt"
        if self.unresolved:
            text += f", {self.unresolved} duplicates without their original"
        if self.bad_files:
            text += f"; {len(self.bad_files)} unreadable files skipped ({self.bad_files[0]})"
        return text


# --- reading parts -----------------------------------------------------------------------


def part_files(paths: Iterable[str | Path], *, missing_ok: bool = False) -> list[Path]:
    """The part files of output folders (searched recursively) and files, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix in PART_SUFFIXES and not p.name.startswith((".", "_"))
            )
        elif path.is_file():
            found.append(path)
        elif not missing_ok:
            raise InputError(f"no such file or directory: {path}")
    return list(dict.fromkeys(found))


def iter_rows(path: Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of one part file. Raises InputError when it cannot be read as a part."""
    if path.suffix == ".parquet":
        yield from _parquet_rows(path, columns)
        return
    try:
        with path.open(encoding="utf-8") as fp:
            for number, line in enumerate(fp, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: not a JSON line ({exc.msg})") from exc
                if not isinstance(raw, dict) or "source" not in raw or "status" not in raw:
                    raise InputError(f"{path}:{number}: not a stackextract result row")
                yield R.clean_row(raw)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {one_line(str(exc), 200)}") from exc


def _parquet_rows(path: Path, columns: list[str] | None) -> Iterator[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - the ray extra brings pyarrow
        raise InputError("reading Parquet needs pyarrow: pip install 'stackextract[ray]'") from exc
    try:
        part = pq.ParquetFile(path)
        names = set(part.schema_arrow.names)
        if not {"source", "status"} <= names:
            raise InputError(f"{path}: not a stackextract result file (no source/status column)")
        wanted = [c for c in columns if c in names] if columns else None
        for batch in part.iter_batches(batch_size=1000, columns=wanted):
            for raw in batch.to_pylist():
                yield R.clean_row(raw)
    except InputError:
        raise
    except Exception as exc:  # pyarrow's errors for a truncated or foreign file
        raise InputError(f"{path}: not a readable Parquet file ({one_line(str(exc), 200)})") \
            from exc


# --- what is done ------------------------------------------------------------------------


def read_done(what: Any, config_key: str, *, prefix: str = "") -> R.Done:
    """The sources and content hashes already extracted under `config_key`.

    `what`: a Done; a Store; a SQLite file; output folders or part files of earlier runs
    (unreadable or half-written files are passed over: their rows are simply redone); or an
    iterable of source keys and 64-hex content hashes.
    """
    if what is None:
        return R.Done()
    if isinstance(what, R.Done):
        return what
    if isinstance(what, Store):
        return _done_in_store(what, config_key)
    if isinstance(what, (str, Path)):
        path = Path(what).expanduser()
        if _is_sqlite(path):
            with Store(path, prefix=prefix, read_only=True) as store:
                return _done_in_store(store, config_key)
        return _done_in_parts([path], config_key)
    items = [str(x) for x in what]
    if items and all(isinstance(x, (str, Path)) and Path(x).exists() for x in items):
        done = R.Done()
        for item in items:
            done = done | read_done(item, config_key, prefix=prefix)
        return done
    hashes = frozenset(x for x in items if _HASH_RE.match(x))
    return R.Done(sources=frozenset(items) - hashes, hashes=hashes)


def _is_sqlite(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with path.open("rb") as fp:
            return fp.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


def _done_in_store(store: Store, config_key: str) -> R.Done:
    sources = frozenset(store.cached_sources(config_key))
    query = (
        f'SELECT DISTINCT d.content_sha256 FROM "{store.t("documents")}" d '
        f'JOIN "{store.t("extractions")}" e ON e.document_id = d.id WHERE e.config_key = ?'
    )
    try:
        hashes = frozenset(h for (h,) in store.db.conn.execute(query, (config_key,)))
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {store.path or 'the database'}: {exc}") from exc
    return R.Done(sources=sources, hashes=hashes)


def _done_in_parts(paths: list[Path], config_key: str) -> R.Done:
    sources: set[str] = set()
    hashes: set[str] = set()
    columns = ["source", "status", "config_key", "content_sha256"]
    for path in part_files(paths, missing_ok=True):
        try:
            for row in iter_rows(path, columns):
                if row["config_key"] != config_key or row["status"] == R.FAILED:
                    continue
                sources.add(row["source"])
                if row["status"] == R.OK and row["content_sha256"]:
                    hashes.add(row["content_sha256"])
        except InputError:
            continue  # a half-written part of a killed run: its rows are redone
    return R.Done(sources=frozenset(sources), hashes=frozenset(hashes))


# --- import ------------------------------------------------------------------------------


def import_parts(
    paths: Iterable[str | Path], *, db: str | Path | Store, prefix: str = ""
) -> ImportSummary:
    """Load result parts into the store as `stackextract batch` would have stored them.

    Three passes: extracted documents, then duplicates (their extraction is reused by
    content hash, from the store or from the parts just imported), then failures (only for
    sources that are not stored: a later success wins). Unreadable files are skipped and
    listed in the summary. Raises InputError when there are no part files at all.
    """
    files = part_files(paths)
    if not files:
        raise InputError("no result files (.parquet, .json, .jsonl) in the given paths")
    summary = ImportSummary(files=len(files))
    store = db if isinstance(db, Store) else Store(db, prefix=prefix)
    try:
        readable = []
        for path in files:
            try:
                n = 0
                with _batched(store) as tick:
                    for row in iter_rows(path):
                        n += 1
                        if row["status"] == R.OK:
                            _save(store, row, summary)
                        tick()
                summary.rows += n
                readable.append(path)
            except InputError as exc:
                summary.bad_files.append(one_line(str(exc), 200))
        with _batched(store) as tick:
            for row in _rows_with(readable, R.DUPLICATE):
                _reuse(store, row, summary)
                tick()
        recorded = {
            f["source"]: (f["stage"], f["error_type"], f["message"]) for f in store.failures()
        }
        with _batched(store) as tick:
            for row in _rows_with(readable, R.FAILED):
                _failure(store, row, recorded, summary)
                tick()
        with _batched(store) as tick:
            for row in _rows_with(readable, R.BLOCKED):
                _blocked(store, row, summary)
                tick()
    finally:
        if not isinstance(db, Store):
            store.close()
    return summary


def _rows_with(files: list[Path], status: str) -> Iterator[dict[str, Any]]:
    for path in files:
        for row in iter_rows(path):
            if row["status"] == status:
                yield row


@contextlib.contextmanager
def _batched(store: Store) -> Iterator[Any]:
    """Group the saves in transactions of a few hundred rows (Store.save joins a running
    transaction): one commit per document would make a large import crawl."""
    conn = store.db.conn
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count % _ROWS_PER_TRANSACTION == 0 and conn.in_transaction:
            conn.execute("COMMIT")

    def begin() -> None:
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")

    class _Tick:
        def __call__(self) -> None:
            tick()
            begin()

    try:
        begin()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write {store.path or 'the database'}: {exc}") from exc
    try:
        yield _Tick()
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if conn.in_transaction:
        conn.execute("COMMIT")


def _save(store: Store, row: dict[str, Any], summary: ImportSummary) -> None:
    doc = R.document_of(row)
    result = store.save(doc, R.stack_of(row), config_key=row["config_key"], source=row["source"])
    if result.created:
        summary.stored += 1
    else:
        summary.already += 1


def _reuse(store: Store, row: dict[str, Any], summary: ImportSummary) -> None:
    """A duplicate: store its document with the extraction of the same text (as batch does
    for a page whose text is stored under another source)."""
    doc = R.document_of(row)
    if store.cached(source=row["source"], config_key=row["config_key"]) is not None:
        summary.already += 1
        return
    hit = store.cached(doc.content_sha256, config_key=row["config_key"])
    if hit is None:
        summary.unresolved += 1
        store.record_failure(
            row["source"], stage="cache", error_type="MissingExtraction",
            message="its text was extracted by another run whose results are not in this "
                    "store; import that run's output too",
        )
        return
    stack = hit.model_copy(update={"source": doc.to_source()})
    store.save(doc, stack, config_key=row["config_key"], source=row["source"])
    summary.reused += 1


def _blocked(store: Store, row: dict[str, Any], summary: ImportSummary) -> None:
    """A URL robots.txt keeps out: a page record with outcome robots (what batch writes; it
    clears a failure recorded for the source before), unless the source is stored."""
    source = row["source"]
    if store.cached(source=source, config_key=row["config_key"]) is not None:
        return
    page = store.page(source)
    if page is not None and page.get("outcome") == "robots":
        return  # imported before
    store.record_page(source, outcome="robots", url=row.get("url") or source)
    summary.blocked += 1


def _failure(
    store: Store, row: dict[str, Any], recorded: dict[str, tuple[str, str, str]],
    summary: ImportSummary,
) -> None:
    source = row["source"]
    if store.cached(source=source, config_key=row["config_key"]) is not None:
        return  # stored by another run: the success stands
    fields = (row["error_stage"] or "extract", row["error_type"] or "Error",
              row["error_message"] or "")
    if recorded.get(source) == fields:
        return  # the same failure imported before: a re-import adds nothing
    store.record_failure(source, stage=fields[0], error_type=fields[1], message=fields[2],
                         attempts=row["error_attempts"] or 1)
    recorded[source] = fields
    summary.failures += 1
