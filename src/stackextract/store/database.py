"""SQLite storage for stacks (sqlite-utils): one transaction per document, cache lookups, failures.

Tables (every name carries the optional prefix): documents, extractions, tools, reasons,
regrets, migrations, failures; FTS on documents(text, title) and tools(name, canonical);
views latest_stacks, tool_popularity, most_regretted, migration_pairs, tools_by_document.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from stackextract.errors import StoreError
from stackextract.models import Document, Evidence, Stack

TABLES = ("documents", "extractions", "tools", "reasons", "regrets", "migrations", "failures")
VIEWS = ("latest_stacks", "tool_popularity", "most_regretted", "migration_pairs",
         "tools_by_document")
_ITEM_TABLES = ("tools", "reasons", "regrets", "migrations")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_]*$")
TIMEOUT_ENV = "STACKEXTRACT_DB_TIMEOUT"
DEFAULT_TIMEOUT = 30.0

# Columns shared by the four item tables: where the item sits and its first evidence.
_EVIDENCE_COLUMNS: dict[str, Any] = {
    "quote": str,
    "quote_start": int,
    "quote_end": int,
    "grounded": int,
    "confidence": float,
    "evidence_json": str,
}
_ITEM_COLUMNS: dict[str, dict[str, Any]] = {
    "tools": {
        "name": str,
        "canonical": str,
        "category": str,
        "status": str,
        "purpose": str,
        "in_catalog": int,
    },
    "reasons": {"tool": str, "text": str},
    "regrets": {"tool": str, "text": str, "would_instead": str},
    "migrations": {"from_tool": str, "to_tool": str, "reasons_json": str},
}


@dataclass(frozen=True)
class SaveResult:
    """What `Store.save` did: the row ids, and whether anything new was written."""

    document_id: int
    extraction_id: int
    created: bool


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def source_key(document: Document) -> str:
    """The key a document is stored under when the caller gives none: URL, path, or hash."""
    return document.url or document.path or f"sha256:{document.content_sha256}"


class Store:
    """Stacks in a SQLite file (or inside another tool's database, under a table prefix).

    `wal=None` turns WAL on for a file the Store opens itself and leaves the journal mode
    of a `sqlite_utils.Database` it is given alone (that database belongs to someone else).
    `timeout` is how long a write waits for another process's lock (default: the
    STACKEXTRACT_DB_TIMEOUT environment variable, else 30 s). `read_only=True` opens an
    existing file for reading only (exports), which also works on read-only media.
    """

    def __init__(
        self,
        db: str | Path | sqlite_utils.Database,
        *,
        prefix: str = "",
        wal: bool | None = None,
        timeout: float | None = None,
        read_only: bool = False,
    ) -> None:
        if not _PREFIX_RE.match(prefix):
            raise StoreError(
                f"invalid table prefix {prefix!r}: use letters, digits and underscores only"
            )
        self.prefix = prefix
        self.read_only = read_only
        timeout = _default_timeout() if timeout is None else timeout
        self.owns_connection = not isinstance(db, sqlite_utils.Database)
        if isinstance(db, sqlite_utils.Database):
            self.db = db
            self.path: str | None = None
        else:
            self.path = str(db)
            self.db = self._open_read_only(self.path) if read_only else self._open(
                self.path, timeout
            )
        with self._errors("open"):
            if self.db.execute("PRAGMA busy_timeout").fetchone()[0] == 0:
                self.db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if self.owns_connection:
                self.db.execute("PRAGMA foreign_keys = ON")
        if read_only:
            with self._errors("open"):
                complete = self.db.table(self.t("failures")).exists()
            if not complete:
                self.close()
                where = f" with prefix {prefix!r}" if prefix else ""
                raise StoreError(
                    f"{self.path or 'the database'} holds no stackextract tables{where}; "
                    "check --db and --prefix"
                )
            return
        with self._errors("prepare"):
            want_wal = wal if wal is not None else self.owns_connection
            if want_wal and self.path != ":memory:":
                self.db.enable_wal()
                # WAL + NORMAL survives a killed process; only a power loss can drop
                # the last commits, and a re-run redoes them.
                self.db.execute("PRAGMA synchronous = NORMAL")
            self._create_schema()

    # -- setup -----------------------------------------------------------------------------

    def _open(self, path: str, timeout: float) -> sqlite_utils.Database:
        if path != ":memory:":
            parent = Path(path).expanduser().resolve().parent
            if not parent.is_dir():
                raise StoreError(
                    f"cannot create database {path}: directory {parent} does not exist; "
                    "create it or choose another --db path"
                )
        try:
            conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
        except sqlite3.Error as exc:
            why = _unwritable(path)
            if why:
                raise StoreError(
                    f"cannot write database {path}: {why}; make it writable or use another "
                    "--db path"
                ) from exc
            raise StoreError(
                f"cannot open database {path}: {exc}; check the path and its permissions"
            ) from exc
        return sqlite_utils.Database(conn)

    def _open_read_only(self, path: str) -> sqlite_utils.Database:
        """Open for reading only; on a read-only file system, as immutable (nothing can change
        it there, and SQLite cannot create the WAL index it would otherwise need)."""
        file = Path(path).expanduser()
        if not file.is_file():
            raise StoreError(f"no database at {path}; check the --db path")
        uri = f"{file.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            wal = file.with_name(file.name + "-wal")
            if not _on_read_only_fs(file) or (wal.exists() and wal.stat().st_size > 0):
                # (immutable would ignore the committed changes still in the WAL file)
                raise StoreError(
                    f"cannot read database {path}: {exc}; check the file and its permissions, "
                    "or copy it and its -wal file to a writable place"
                ) from exc
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path} is not a usable SQLite database ({exc}); check the --db path"
            ) from exc
        return sqlite_utils.Database(conn)

    def t(self, name: str) -> str:
        """The real (prefixed) name of one of our tables or views."""
        return f"{self.prefix}{name}"

    def _q(self, name: str) -> str:
        return f'"{self.t(name)}"'

    def _create_schema(self) -> None:
        db, t = self.db, self.t
        if db.table(t("failures")).exists() and db.table(t("documents")).exists():
            # already set up (re-creating views/FTS on every open costs time); a view added
            # in a later version is created once, on the first writable open
            missing = {t(v) for v in VIEWS} - set(db.view_names())
            for name, sql in self._views().items():
                if t(name) in missing:
                    db.create_view(t(name), sql, ignore=True)
            return
        db.table(t("documents")).create(
            {
                "id": int,
                "source": str,
                "url": str,
                "final_url": str,
                "path": str,
                "title": str,
                "author": str,
                "published": str,
                "site_name": str,
                "language": str,
                "format": str,
                "content_sha256": str,
                "text": str,
                "fetched_at": str,
            },
            pk="id",
            not_null={"source", "content_sha256", "text"},
            if_not_exists=True,
        )
        self._index("documents", ["source", "content_sha256"], unique=True)
        self._index("documents", ["content_sha256"])
        db.table(t("extractions")).create(
            {
                "id": int,
                "document_id": int,
                "config_key": str,
                "backend": str,
                "model": str,
                "prompt_version": str,
                "schema_version": str,
                "stackextract_version": str,
                "prompt_tokens": int,
                "completion_tokens": int,
                "total_tokens": int,
                "requests": int,
                "attempts": int,
                "duration_s": float,
                "dropped_items": int,
                "chunks": int,
                "company": str,
                "stack_json": str,
                "created_at": str,
            },
            pk="id",
            not_null={"document_id", "config_key", "stack_json"},
            foreign_keys=[("document_id", t("documents"), "id")],
            if_not_exists=True,
        )
        self._index("extractions", ["document_id", "config_key"], unique=True)
        for name in _ITEM_TABLES:
            columns: dict[str, Any] = {"id": int, "extraction_id": int, "position": int}
            columns |= _ITEM_COLUMNS[name] | _EVIDENCE_COLUMNS
            db.table(t(name)).create(
                columns,
                pk="id",
                not_null={"extraction_id"},
                foreign_keys=[("extraction_id", t("extractions"), "id")],
                if_not_exists=True,
            )
            self._index(name, ["extraction_id"])
        self._index("tools", ["canonical"])
        if not db.table(t("documents_fts")).exists():
            db.table(t("documents")).enable_fts(["title", "text"], create_triggers=True)
        if not db.table(t("tools_fts")).exists():
            db.table(t("tools")).enable_fts(["name", "canonical"], create_triggers=True)
        for name, sql in self._views().items():
            db.create_view(t(name), sql, ignore=True)
        # failures last: its presence marks a complete schema (see the early return above)
        db.table(t("failures")).create(
            {
                "source": str,
                "stage": str,
                "error_type": str,
                "message": str,
                "attempts": int,
                "occurrences": int,
                "failed_at": str,
            },
            pk="source",
            if_not_exists=True,
        )

    def _index(self, table: str, columns: list[str], *, unique: bool = False) -> None:
        # Named by us so that indexes carry the prefix too (sqlite-utils would say idx_<table>).
        name = self.t(f"idx_{table}_{'_'.join(columns)}")
        self.db.table(self.t(table)).create_index(
            columns, index_name=name, unique=unique, if_not_exists=True
        )

    def _views(self) -> dict[str, str]:
        q = self._q
        latest = f"""
SELECT d.source, d.url, d.final_url, d.path, d.title, d.author, d.published, d.site_name,
       d.content_sha256, e.id AS extraction_id, e.document_id, e.config_key, e.backend,
       e.model, e.company, e.created_at, e.stack_json
FROM {q("extractions")} e JOIN {q("documents")} d ON d.id = e.document_id
WHERE e.id = (
  SELECT MAX(e2.id) FROM {q("extractions")} e2
  JOIN {q("documents")} d2 ON d2.id = e2.document_id
  WHERE d2.source = d.source
)"""
        popularity = f"""
SELECT t.canonical, t.category, t.status, COUNT(DISTINCT l.source) AS documents
FROM {q("tools")} t JOIN {q("latest_stacks")} l ON l.extraction_id = t.extraction_id
GROUP BY t.canonical, t.category, t.status
ORDER BY documents DESC, t.canonical"""
        regretted = f"""
SELECT r.tool, COUNT(*) AS regrets, COUNT(DISTINCT l.source) AS documents
FROM {q("regrets")} r JOIN {q("latest_stacks")} l ON l.extraction_id = r.extraction_id
GROUP BY r.tool COLLATE NOCASE
ORDER BY regrets DESC, r.tool"""
        pairs = f"""
SELECT m.from_tool, m.to_tool, COUNT(*) AS migrations, COUNT(DISTINCT l.source) AS documents
FROM {q("migrations")} m JOIN {q("latest_stacks")} l ON l.extraction_id = m.extraction_id
GROUP BY m.from_tool COLLATE NOCASE, m.to_tool COLLATE NOCASE
ORDER BY migrations DESC, m.from_tool, m.to_tool"""
        by_document = f"""
SELECT l.source, l.url, l.title, l.company, t.name, t.canonical, t.category, t.status,
       t.purpose, t.confidence, t.in_catalog, t.grounded, t.quote, t.quote_start, t.quote_end,
       t.id AS tool_id, l.extraction_id, l.document_id
FROM {q("tools")} t JOIN {q("latest_stacks")} l ON l.extraction_id = t.extraction_id
ORDER BY l.source, t.position"""
        return {
            "latest_stacks": latest,
            "tool_popularity": popularity,
            "most_regretted": regretted,
            "migration_pairs": pairs,
            "tools_by_document": by_document,
        }

    # -- errors and transactions -----------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn sqlite3 errors into a one-line StoreError that says what to do."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            where = self.path or "the database"
            msg = str(exc)
            if "locked" in msg or "busy" in msg:
                hint = (
                    f"database {where} is locked by another process ({action}); wait for it "
                    "to finish or use another --db path"
                )
            elif "readonly" in msg or "read-only" in msg:
                why = _unwritable(self.path) or "read-only"
                hint = (
                    f"database {where} cannot be written ({action}): {why}; make the file and "
                    "its directory writable or use another --db path"
                )
            elif "unable to open" in msg:
                why = _unwritable(self.path)
                hint = (
                    f"cannot write database {where} ({action}): {why}; make it writable or "
                    "use another --db path"
                    if why
                    else f"cannot open database {where} ({action}); check the path and its "
                    "permissions"
                )
            elif "disk" in msg and "full" in msg:
                hint = f"disk full while writing {where} ({action}); free space and re-run"
            elif "disk i/o error" in msg.lower():
                hint = (
                    f"could not write {where} ({action}): disk I/O error (a full disk, a file "
                    "size limit or a failing device); free space or check the disk, then re-run"
                )
            else:
                hint = f"database error on {where} ({action}): {msg}"
            raise StoreError(hint) from exc
        except sqlite3.DatabaseError as exc:
            where = self.path or "the database"
            raise StoreError(
                f"{where} is not a usable SQLite database ({exc}); use another --db path"
            ) from exc

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: take the write lock now, or time out)."""
        conn = self.db.conn
        with self._errors(action):
            if conn.in_transaction:  # the caller runs its own transaction: join it
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- writing ---------------------------------------------------------------------------

    def save(
        self,
        document: Document,
        stack: Stack,
        *,
        config_key: str,
        source: str | None = None,
        replace: bool = False,
    ) -> SaveResult:
        """Store a document and its stack in one transaction; the same pair again adds nothing.

        `source` is the key the batch looks the document up by (defaults to its URL or
        path). `replace=True` swaps an existing extraction for this one.
        """
        key = source or source_key(document)
        with self._transaction("save") as conn:
            doc_id = self._document_id(conn, document, key)
            row = conn.execute(
                f"SELECT id FROM {self._q('extractions')} WHERE document_id = ? AND config_key = ?",
                (doc_id, config_key),
            ).fetchone()
            created = True
            if row is not None:
                if not replace:
                    created = False
                    ext_id = int(row[0])
                else:
                    self._delete_extraction(conn, int(row[0]))
                    ext_id = self._insert_extraction(conn, doc_id, stack, config_key)
            else:
                ext_id = self._insert_extraction(conn, doc_id, stack, config_key)
            conn.execute(f"DELETE FROM {self._q('failures')} WHERE source = ?", (key,))
        return SaveResult(document_id=doc_id, extraction_id=ext_id, created=created)

    def _insert(self, conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        cur = conn.execute(
            f"INSERT INTO {self._q(table)} ({cols}) VALUES ({marks})", tuple(row.values())
        )
        return int(cur.lastrowid or 0)

    def _document_id(self, conn: sqlite3.Connection, doc: Document, key: str) -> int:
        row = conn.execute(
            f"SELECT id FROM {self._q('documents')} WHERE source = ? AND content_sha256 = ?",
            (key, doc.content_sha256),
        ).fetchone()
        if row is not None:
            return int(row[0])
        return self._insert(
            conn,
            "documents",
            {
                "source": key,
                "url": doc.url,
                "final_url": doc.final_url,
                "path": doc.path,
                "title": doc.title,
                "author": doc.author,
                "published": doc.published,
                "site_name": doc.site_name,
                "language": doc.language,
                "format": doc.format,
                "content_sha256": doc.content_sha256,
                "text": doc.text,
                "fetched_at": _now(),
            },
        )

    def _insert_extraction(
        self, conn: sqlite3.Connection, doc_id: int, stack: Stack, config_key: str
    ) -> int:
        p = stack.provenance
        ext_id = self._insert(
            conn,
            "extractions",
            {
                "document_id": doc_id,
                "config_key": config_key,
                "backend": p.backend,
                "model": p.model,
                "prompt_version": p.prompt_version,
                "schema_version": p.schema_version,
                "stackextract_version": p.stackextract_version,
                "prompt_tokens": p.usage.prompt_tokens,
                "completion_tokens": p.usage.completion_tokens,
                "total_tokens": p.usage.total_tokens,
                "requests": p.usage.requests,
                "attempts": p.usage.attempts,
                "duration_s": p.duration_s,
                "dropped_items": p.dropped_items,
                "chunks": p.chunks,
                "company": stack.company,
                "stack_json": stack.model_dump_json(),
                "created_at": p.created_at,
            },
        )
        for i, tool in enumerate(stack.tools):
            self._insert(
                conn,
                "tools",
                {
                    "extraction_id": ext_id,
                    "position": i,
                    "name": tool.name,
                    "canonical": tool.canonical,
                    "category": tool.category.value,
                    "status": tool.status.value,
                    "purpose": tool.purpose,
                    "in_catalog": int(tool.in_catalog),
                    "confidence": tool.confidence,
                    **_evidence_columns(tool.evidence),
                },
            )
        for i, reason in enumerate(stack.reasons):
            self._insert(
                conn,
                "reasons",
                {
                    "extraction_id": ext_id,
                    "position": i,
                    "tool": reason.tool,
                    "text": reason.text,
                    "confidence": reason.confidence,
                    **_evidence_columns(reason.evidence),
                },
            )
        for i, regret in enumerate(stack.regrets):
            self._insert(
                conn,
                "regrets",
                {
                    "extraction_id": ext_id,
                    "position": i,
                    "tool": regret.tool,
                    "text": regret.text,
                    "would_instead": regret.would_instead,
                    "confidence": regret.confidence,
                    **_evidence_columns(regret.evidence),
                },
            )
        for i, mig in enumerate(stack.migrations):
            self._insert(
                conn,
                "migrations",
                {
                    "extraction_id": ext_id,
                    "position": i,
                    "from_tool": mig.from_tool,
                    "to_tool": mig.to_tool,
                    "reasons_json": json.dumps(mig.reasons),
                    "confidence": mig.confidence,
                    **_evidence_columns(mig.evidence),
                },
            )
        return ext_id

    def _delete_extraction(self, conn: sqlite3.Connection, ext_id: int) -> None:
        for name in _ITEM_TABLES:
            conn.execute(f"DELETE FROM {self._q(name)} WHERE extraction_id = ?", (ext_id,))
        conn.execute(f"DELETE FROM {self._q('extractions')} WHERE id = ?", (ext_id,))

    def record_failure(
        self, source: str, *, stage: str, error_type: str, message: str, attempts: int = 1
    ) -> None:
        """Remember why a source failed (one row per source; a new failure replaces the old)."""
        with self._transaction("record failure") as conn:
            conn.execute(
                f"""INSERT INTO {self._q("failures")}
                (source, stage, error_type, message, attempts, occurrences, failed_at)
                VALUES (?, ?, ?, ?, ?, 1, ?)
                ON CONFLICT(source) DO UPDATE SET stage = excluded.stage,
                  error_type = excluded.error_type, message = excluded.message,
                  attempts = excluded.attempts, occurrences = occurrences + 1,
                  failed_at = excluded.failed_at""",
                (source, stage, error_type, message, attempts, _now()),
            )

    # -- reading ---------------------------------------------------------------------------

    def cached(
        self,
        content_sha256: str | None = None,
        *,
        source: str | None = None,
        config_key: str,
    ) -> Stack | None:
        """The stored stack for this source or content under this configuration, if any."""
        if content_sha256 is None and source is None:
            raise ValueError("cached() needs content_sha256 or source")
        where, params = ["e.config_key = ?"], [config_key]
        if content_sha256 is not None:
            where.append("d.content_sha256 = ?")
            params.append(content_sha256)
        if source is not None:
            where.append("d.source = ?")
            params.append(source)
        with self._errors("cache lookup"):
            row = self.db.conn.execute(
                f"SELECT e.stack_json FROM {self._q('extractions')} e "
                f"JOIN {self._q('documents')} d ON d.id = e.document_id "
                f"WHERE {' AND '.join(where)} ORDER BY e.id DESC LIMIT 1",
                params,
            ).fetchone()
        return None if row is None else Stack.model_validate_json(row[0])

    def cached_sources(self, config_key: str) -> Iterator[str]:
        """Every source that already has an extraction under this configuration (streamed)."""
        with self._errors("cache lookup"):
            cur = self.db.conn.execute(
                f"SELECT DISTINCT d.source FROM {self._q('documents')} d "
                f"JOIN {self._q('extractions')} e ON e.document_id = d.id "
                "WHERE e.config_key = ?",
                (config_key,),
            )
            for (source,) in cur:
                yield source

    def failures(self) -> list[dict[str, Any]]:
        """Every recorded failure, oldest first."""
        with self._errors("read failures"):
            return list(self.db.table(self.t("failures")).rows_where(order_by="failed_at, source"))

    def failed_sources(self) -> list[str]:
        return [row["source"] for row in self.failures()]

    def stacks(self, latest: bool = True) -> Iterator[Stack]:
        """Stored stacks: the latest per source, or every extraction with `latest=False`."""
        table = self._q("latest_stacks") if latest else self._q("extractions")
        order = "extraction_id" if latest else "id"
        with self._errors("read stacks"):
            cur = self.db.conn.execute(f"SELECT stack_json FROM {table} ORDER BY {order}")
            for (raw,) in cur:
                yield Stack.model_validate_json(raw)

    def counts(self) -> dict[str, int]:
        """Row count of each of our tables."""
        with self._errors("count rows"):
            return {
                name: int(
                    self.db.conn.execute(f"SELECT COUNT(*) FROM {self._q(name)}").fetchone()[0]
                )
                for name in TABLES
            }

    def table_names(self) -> list[str]:
        """Our tables, prefixed, in dependency order (for exports)."""
        return [self.t(name) for name in TABLES]

    def close(self) -> None:
        """Close the connection if the Store opened it (a given Database stays open)."""
        if self.owns_connection:
            self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _default_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise StoreError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds")
    return value


def _on_read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent if path.parent.exists() else path).f_flag
                    & os.ST_RDONLY)
    except OSError:
        return False


def _unwritable(path: str | None) -> str | None:
    """Why a database file cannot be written here, in a few words, or None if it can."""
    if not path or path == ":memory:":
        return None
    file = Path(path).expanduser().resolve()
    if _on_read_only_fs(file):
        return f"{file.parent} is on a read-only file system"
    if not os.access(file.parent, os.W_OK | os.X_OK):
        return f"directory {file.parent} is not writable"
    if file.exists() and not os.access(file, os.W_OK):
        return f"file {file} is read-only"
    return None


def _evidence_columns(evidence: list[Evidence]) -> dict[str, Any]:
    """Flatten the first grounded evidence (else the first one); keep them all as JSON."""
    first = next((e for e in evidence if e.grounded), evidence[0] if evidence else None)
    return {
        "quote": first.quote if first else None,
        "quote_start": first.start if first else None,
        "quote_end": first.end if first else None,
        "grounded": int(any(e.grounded for e in evidence)),
        "evidence_json": json.dumps([e.model_dump(mode="json") for e in evidence]),
    }
