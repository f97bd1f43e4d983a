"""SQLite storage for stacks (sqlite-utils): one transaction per document, cache lookups, failures.

Tables (every name carries the optional prefix): documents, extractions, tools, reasons,
regrets, migrations, failures, pages (what each fetch answered: status, ETag, Last-Modified,
optionally the raw page), robots (robots.txt per site); FTS on documents(text, title) and
tools(name, canonical); views latest_stacks, tool_popularity, most_regretted, migration_pairs,
tools_by_document.

Before creating anything the store checks every name it would create; if one is taken by
another schema (another tool's `tools` table, a view named `documents`...) it refuses with
one line and changes nothing: use a prefix.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import sqlite_utils

from stackextract.errors import StoreError
from stackextract.models import Document, Evidence, Stack

TABLES = ("documents", "extractions", "tools", "reasons", "regrets", "migrations", "failures")
# what fetching remembers (status, validators, raw pages, robots.txt): not exported
FETCH_TABLES = ("pages", "robots")
VIEWS = ("latest_stacks", "tool_popularity", "most_regretted", "migration_pairs",
         "tools_by_document")
_ITEM_TABLES = ("tools", "reasons", "regrets", "migrations")
_PREFIX_RE = re.compile(r"[A-Za-z0-9_]*")
_FTS = {"documents": ("title", "text"), "tools": ("name", "canonical")}
_SQL_TYPES = {str: "TEXT", int: "INTEGER", float: "FLOAT"}
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
class _Object:
    """One schema object the store creates: its kind, name, table and CREATE statement."""

    kind: str
    name: str
    table: str
    sql: str
    columns: frozenset[str] = frozenset()  # a table's columns that make it ours
    later: tuple[str, ...] = ()  # column definitions added since: an older table gets them


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
        if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
            raise StoreError(
                f"invalid table prefix {prefix!r}: use letters, digits and underscores only"
            )
        self.prefix = prefix
        self.read_only = read_only
        timeout = _default_timeout() if timeout is None else timeout
        self._timeout = timeout
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
            try:
                self._create_schema(wal=bool(want_wal) and self.path != ":memory:")
            except StoreError:
                self.close()
                raise

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

    def _objects(self) -> list[_Object]:
        """Every table, index, FTS table, trigger and view the store creates, in order."""
        t, q = self.t, self._q
        objects: list[_Object] = []

        def table(name: str, columns: list[str], extra: str = "", *, core: int | None = None,
                  ) -> None:
            body = ",\n   ".join([*columns, *([extra] if extra else [])])
            names = [c.split()[0].strip('"') for c in columns]
            objects.append(_Object("table", t(name), t(name),
                                   f"CREATE TABLE {q(name)} (\n   {body}\n)",
                                   frozenset(names[:core] if core else names),
                                   tuple(columns[core:]) if core else ()))

        def index(name: str, columns: list[str], *, unique: bool = False) -> None:
            iname = t(f"idx_{name}_{'_'.join(columns)}")
            cols = ", ".join(f'"{c}"' for c in columns)
            objects.append(_Object("index", iname, t(name),
                                   f'CREATE {"UNIQUE " if unique else ""}INDEX "{iname}" '
                                   f"ON {q(name)} ({cols})"))

        table("documents", [
            '"id" INTEGER PRIMARY KEY', '"source" TEXT NOT NULL', '"url" TEXT',
            '"final_url" TEXT', '"path" TEXT', '"title" TEXT', '"author" TEXT',
            '"published" TEXT', '"site_name" TEXT', '"language" TEXT', '"format" TEXT',
            '"content_sha256" TEXT NOT NULL', '"text" TEXT NOT NULL', '"fetched_at" TEXT',
        ])
        index("documents", ["source", "content_sha256"], unique=True)
        index("documents", ["content_sha256"])
        table("extractions", [
            '"id" INTEGER PRIMARY KEY',
            f'"document_id" INTEGER NOT NULL REFERENCES {q("documents")}("id")',
            '"config_key" TEXT NOT NULL', '"backend" TEXT', '"model" TEXT',
            '"prompt_version" TEXT', '"schema_version" TEXT', '"stackextract_version" TEXT',
            '"prompt_tokens" INTEGER', '"completion_tokens" INTEGER', '"total_tokens" INTEGER',
            '"requests" INTEGER', '"attempts" INTEGER', '"duration_s" FLOAT',
            '"dropped_items" INTEGER', '"chunks" INTEGER', '"company" TEXT',
            '"stack_json" BLOB NOT NULL', '"created_at" TEXT',  # JSON (text, or compressed)
        ])
        index("extractions", ["document_id", "config_key"], unique=True)
        for name in _ITEM_TABLES:
            columns = ['"id" INTEGER PRIMARY KEY',
                       f'"extraction_id" INTEGER NOT NULL REFERENCES {q("extractions")}("id")',
                       '"position" INTEGER']
            for column, kind in (_ITEM_COLUMNS[name] | _EVIDENCE_COLUMNS).items():
                columns.append(f'"{column}" {_SQL_TYPES[kind]}')
            table(name, columns)
            index(name, ["extraction_id"])
        index("tools", ["canonical"])
        for name, fts_columns in _FTS.items():
            objects.extend(self._fts_objects(name, fts_columns))
        table("failures", [
            '"source" TEXT PRIMARY KEY', '"stage" TEXT', '"error_type" TEXT', '"message" TEXT',
            '"attempts" INTEGER', '"occurrences" INTEGER', '"failed_at" TEXT',
            '"kind" TEXT',  # "url" or "file": how --retry-failed may read the source
        ], core=7)
        # what the last fetch of each source answered: for conditional requests, for not
        # fetching a 404 again, and (with --keep-raw) the page itself, compressed
        table("pages", [
            '"source" TEXT PRIMARY KEY', '"url" TEXT', '"final_url" TEXT',
            '"status_code" INTEGER', '"outcome" TEXT', '"etag" TEXT', '"last_modified" TEXT',
            '"content_type" TEXT', '"raw" BLOB', '"raw_bytes" INTEGER', '"fetched_at" TEXT',
        ])
        table("robots", [
            '"origin" TEXT PRIMARY KEY', '"status_code" INTEGER', '"body" TEXT',
            '"fetched_at" TEXT',
        ])
        for name, sql in self._views().items():
            objects.append(_Object("view", t(name), t(name), f"CREATE VIEW {q(name)} AS {sql}"))
        return objects

    def _fts_objects(self, name: str, columns: tuple[str, ...]) -> list[_Object]:
        """An external-content FTS5 table and the triggers that keep it in step (the same
        objects sqlite-utils' enable_fts makes, so older databases stay valid)."""
        t, q = self.t, self._q
        fts = t(f"{name}_fts")
        cols = ", ".join(f'"{c}"' for c in columns)
        new = ", ".join(f'new."{c}"' for c in columns)
        old = ", ".join(f'old."{c}"' for c in columns)
        insert = f'INSERT INTO "{fts}" (rowid, {cols}) VALUES (new.rowid, {new});'
        delete = (f'INSERT INTO "{fts}" ("{fts}", rowid, {cols}) '
                  f"VALUES('delete', old.rowid, {old});")
        objects = [_Object(
            "table", fts, fts,
            f'CREATE VIRTUAL TABLE "{fts}" USING FTS5 (\n    {cols},\n    content="{t(name)}"\n)',
        )]
        for suffix, body in (("ai", f"AFTER INSERT ON {q(name)} BEGIN\n  {insert}\nEND"),
                             ("ad", f"AFTER DELETE ON {q(name)} BEGIN\n  {delete}\nEND"),
                             ("au", f"AFTER UPDATE ON {q(name)} BEGIN\n  {delete}\n  {insert}"
                                    "\nEND")):
            trigger = t(f"{name}_{suffix}")
            objects.append(_Object("trigger", trigger, t(name),
                                   f'CREATE TRIGGER "{trigger}" {body}'))
        return objects

    def _clashes(self, objects: list[_Object]) -> list[str]:
        """What in the database already holds one of our names with another schema."""
        conn = self.db.conn
        existing = {
            str(name).casefold(): (kind, str(table), sql or "")
            for kind, name, table, sql in conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
            )
        }
        fts_names = {self.t(f"{n}_fts").casefold() for n in _FTS}
        problems: list[str] = []
        for obj in objects:
            found = existing.get(obj.name.casefold())
            if found is None:
                continue
            kind, table, sql = found
            if kind != obj.kind:
                problems.append(f"a {kind} named {obj.name!r} (we need a {obj.kind} there)")
            elif obj.name.casefold() in fts_names:
                content = f'content="{obj.table[: -len("_fts")]}"'.casefold()
                if content not in sql.casefold().replace("'", '"').replace(" ", ""):
                    problems.append(f"table {obj.name!r} is not our full-text index")
            elif kind == "table":
                have = {str(row[1]).casefold() for row in conn.execute(
                    f'PRAGMA table_info("{obj.name}")')}
                missing = sorted(c for c in obj.columns if c.casefold() not in have)
                if missing:
                    problems.append(f"table {obj.name!r} has another schema "
                                    f"(no column {', '.join(missing[:3])})")
            elif kind in ("index", "trigger") and table.casefold() != obj.table.casefold():
                problems.append(f"{kind} {obj.name!r} belongs to table {table!r}")
            elif kind == "view" and not any(
                f'"{self.t(name)}"'.casefold() in sql.casefold() for name in TABLES
            ):
                problems.append(f"view {obj.name!r} is not ours")
        # FTS5 shadow tables without their FTS table: someone else's leftovers
        for name in _FTS:
            fts = self.t(f"{name}_fts")
            if fts.casefold() in existing:
                continue
            for shadow in ("data", "idx", "docsize", "config", "content"):
                if f"{fts}_{shadow}".casefold() in existing:
                    problems.append(f"a table named {f'{fts}_{shadow}'!r}")
        return problems

    def _missing(self, objects: list[_Object]) -> list[_Object]:
        names = {str(row[0]).casefold() for row in self.db.conn.execute(
            "SELECT name FROM sqlite_master")}
        return [obj for obj in objects if obj.name.casefold() not in names]

    def _missing_columns(self, objects: list[_Object]) -> list[str]:
        """ALTER statements for columns added since an existing table of ours was made."""
        statements = []
        for obj in objects:
            if not obj.later:
                continue
            have = {str(row[1]).casefold() for row in self.db.conn.execute(
                f'PRAGMA table_info("{obj.name}")')}
            if not have:
                continue  # not there yet: created whole
            for column in obj.later:
                if column.split()[0].strip('"').casefold() not in have:
                    statements.append(f'ALTER TABLE "{obj.name}" ADD COLUMN {column}')
        return statements

    def _enable_wal(self) -> None:
        """Switch to WAL, retrying while another process holds the file.

        SQLite can answer a journal-mode change with "database is locked" at once, without
        waiting out the busy timeout (a second process opening the same fresh file while
        the first converts it), so the wait is done here, bounded by the same timeout.
        """
        deadline = time.monotonic() + self._timeout
        delay = 0.005
        while True:
            try:
                mode = self.db.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    self.db.execute("PRAGMA journal_mode=wal")
                return
            except sqlite3.OperationalError as exc:
                msg = str(exc)
                if ("locked" not in msg and "busy" not in msg) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def _refuse(self, problems: list[str]) -> NoReturn:
        where = self.path or "the database"
        hint = "another --prefix" if self.prefix else "--prefix se_ (or prefix='se_')"
        raise StoreError(
            f"{where} already has {problems[0]}"
            + (f" and {len(problems) - 1} more clash(es)" if len(problems) > 1 else "")
            + f"; nothing was changed: use {hint} to keep stackextract's tables apart"
        )

    def _create_schema(self, *, wal: bool) -> None:
        """Check every name first (a clash changes nothing), then create what is missing in
        one write transaction, which waits for a concurrent creator (busy timeout)."""
        objects = self._objects()
        problems = self._clashes(objects)
        if problems:
            self._refuse(problems)
        if wal:
            self._enable_wal()
            # WAL + NORMAL survives a killed process; only a power loss can drop
            # the last commits, and a re-run redoes them.
            self.db.execute("PRAGMA synchronous = NORMAL")
        if not self._missing(objects) and not self._missing_columns(objects):
            return  # already set up: no write, no lock
        with self._transaction("prepare") as conn:
            problems = self._clashes(objects)  # another process may have been quicker
            if problems:
                conn.execute("ROLLBACK")
                self._refuse(problems)
            for obj in self._missing(objects):
                conn.execute(obj.sql)
            for statement in self._missing_columns(objects):
                conn.execute(statement)

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
                why = _unwritable(self.path) or "it cannot be opened"
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
        page: dict[str, Any] | None = None,
    ) -> SaveResult:
        """Store a document and its stack in one transaction; the same pair again adds nothing.

        `source` is the key the batch looks the document up by (defaults to its URL or
        path). `replace=True` swaps an existing extraction for this one. `page`: the fetch
        record of the source (see `record_page`), written in the same transaction.
        """
        key = source or source_key(document)
        with self._transaction("save") as conn:
            if page is not None:
                self._record_page(conn, key, **page)
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
                "stack_json": pack_stack(stack),
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
        self, source: str, *, stage: str, error_type: str, message: str, attempts: int = 1,
        kind: str | None = None,
    ) -> None:
        """Remember why a source failed (one row per source; a new failure replaces the old).
        `kind` ("url" or "file") is where the source came from, decided once: a retry never
        reads a line of a URL list as a local path."""
        with self._transaction("record failure") as conn:
            conn.execute(
                f"""INSERT INTO {self._q("failures")}
                (source, stage, error_type, message, attempts, occurrences, failed_at, kind)
                VALUES (?, ?, ?, ?, ?, 1, ?, ?)
                ON CONFLICT(source) DO UPDATE SET stage = excluded.stage,
                  error_type = excluded.error_type, message = excluded.message,
                  attempts = excluded.attempts, occurrences = occurrences + 1,
                  failed_at = excluded.failed_at, kind = COALESCE(excluded.kind, kind)""",
                (source, stage, error_type, message, attempts, _now(), kind),
            )

    def save_document(
        self, document: Document, *, source: str | None = None,
        page: dict[str, Any] | None = None,
    ) -> int:
        """Store a document's text without an extraction (a dry run keeps what it fetched)."""
        key = source or source_key(document)
        with self._transaction("save document") as conn:
            if page is not None:
                self._record_page(conn, key, **page)
            return self._document_id(conn, document, key)

    def record_page(
        self,
        source: str,
        *,
        outcome: str,
        url: str | None = None,
        final_url: str | None = None,
        status_code: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        content_type: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        """What the last fetch of `source` answered (outcome: ok, not-modified, http-error,
        robots). `raw` (the page as fetched) is stored zlib-compressed. A page kept out by
        robots.txt is skipped, not failed: its failure row, if any, goes."""
        with self._transaction("record page") as conn:
            self._record_page(conn, source, outcome=outcome, url=url, final_url=final_url,
                              status_code=status_code, etag=etag,
                              last_modified=last_modified, content_type=content_type, raw=raw)

    def _record_page(
        self,
        conn: sqlite3.Connection,
        source: str,
        *,
        outcome: str,
        url: str | None = None,
        final_url: str | None = None,
        status_code: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        content_type: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        import zlib

        packed = zlib.compress(raw, 6) if raw is not None else None
        old = conn.execute(
            f"SELECT etag, last_modified, raw, raw_bytes FROM {self._q('pages')} "
            "WHERE source = ?", (source,),
        ).fetchone()
        raw_size = len(raw) if raw is not None else None
        if outcome == "not-modified" and old is not None:  # keep what the 200 gave
            etag = etag or old[0]
            last_modified = last_modified or old[1]
            if packed is None:
                packed, raw_size = old[2], old[3]
        conn.execute(
            f"""INSERT OR REPLACE INTO {self._q("pages")} (source, url, final_url,
            status_code, outcome, etag, last_modified, content_type, raw, raw_bytes,
            fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (source, url, final_url, status_code, outcome, etag, last_modified,
             content_type, packed, raw_size, _now()),
        )
        if outcome == "robots":
            conn.execute(f"DELETE FROM {self._q('failures')} WHERE source = ?", (source,))

    def page(self, source: str) -> dict[str, Any] | None:
        """The stored fetch record of `source` (raw decompressed), or None."""
        import zlib

        with self._errors("read page"):
            cur = self.db.conn.execute(
                f"SELECT * FROM {self._q('pages')} WHERE source = ?", (source,))
            row = cur.fetchone()
            if row is None:
                return None
            record = dict(zip([c[0] for c in cur.description], row, strict=True))
        if record.get("raw") is not None:
            record["raw"] = zlib.decompress(record["raw"])
        return record

    def document(self, source: str) -> Document | None:
        """The latest stored text of `source` as a Document (re-extraction, no fetch)."""
        with self._errors("read document"):
            cur = self.db.conn.execute(
                f"SELECT text, format, url, final_url, path, title, author, published, "
                f"site_name, language, content_sha256 FROM {self._q('documents')} "
                "WHERE source = ? ORDER BY id DESC LIMIT 1", (source,),
            )
            row = cur.fetchone()
            if row is None:
                return None
            fields = dict(zip([c[0] for c in cur.description], row, strict=True))
        fields["format"] = fields["format"] or "text"
        return Document(**fields)

    def stored_sources(self) -> list[str]:
        """Every source with stored text, in the order first stored."""
        with self._errors("read sources"):
            return [row[0] for row in self.db.conn.execute(
                f"SELECT source FROM {self._q('documents')} GROUP BY source ORDER BY MIN(id)")]

    def settled_sources(self) -> dict[str, str]:
        """Sources a plain re-run does not fetch again: permanent failures (404, 410) and
        pages robots.txt keeps out; source -> "failed" or "robots"."""
        with self._errors("read failures"):
            rows = self.db.conn.execute(
                f"SELECT p.source, p.outcome, f.source IS NOT NULL "
                f"FROM {self._q('pages')} p LEFT JOIN {self._q('failures')} f "
                f"ON f.source = p.source WHERE p.outcome = 'robots' "
                f"OR (p.outcome = 'http-error' AND p.status_code IN (404, 410))"
            ).fetchall()
        return {
            source: "robots" if outcome == "robots" else "failed"
            for source, outcome, failed in rows
            if outcome == "robots" or failed
        }

    def robots_file(self, origin: str, *, max_age_s: float) -> tuple[int, str] | None:
        """A stored robots.txt answer (status, body) younger than `max_age_s`, or None."""
        with self._errors("read robots"):
            row = self.db.conn.execute(
                f"SELECT status_code, body, fetched_at FROM {self._q('robots')} "
                "WHERE origin = ?", (origin,),
            ).fetchone()
        if row is None:
            return None
        try:
            age = (datetime.now(timezone.utc) - datetime.fromisoformat(row[2])).total_seconds()
        except (TypeError, ValueError):
            return None
        return (int(row[0]), row[1] or "") if 0 <= age <= max_age_s else None

    def record_robots(self, origin: str, status_code: int, body: str) -> None:
        with self._transaction("record robots") as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO {self._q('robots')} (origin, status_code, body, "
                "fetched_at) VALUES (?, ?, ?, ?)", (origin, status_code, body, _now()),
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
        return None if row is None else unpack_stack(row[0])

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
                yield unpack_stack(raw)

    def counts(self) -> dict[str, int]:
        """Row count of each of our tables."""
        with self._errors("count rows"):
            return {
                name: int(
                    self.db.conn.execute(f"SELECT COUNT(*) FROM {self._q(name)}").fetchone()[0]
                )
                for name in TABLES + FETCH_TABLES
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


def pack_stack(stack: Stack) -> bytes:
    """The Stack as stored in `extractions.stack_json`: its JSON, zlib-compressed.

    The item tables hold every tool, reason, regret and migration already; this copy is what
    rebuilds the whole Stack (cache hits, export) and compresses to about a fifth.
    """
    return zlib.compress(stack.model_dump_json().encode("utf-8"), 6)


def unpack_stack(raw: bytes | str) -> Stack:
    """A Stack from `extractions.stack_json`: compressed (bytes) or, in older files, JSON text."""
    if isinstance(raw, bytes):
        try:
            raw = zlib.decompress(raw)
        except zlib.error as exc:
            raise StoreError(f"a stored stack is damaged ({exc}); re-extract with --force") from exc
    return Stack.model_validate_json(raw)


def stack_json_text(raw: bytes | str | None) -> str | None:
    """The JSON text of a stored `stack_json` value, compressed or not (for CSV export)."""
    if isinstance(raw, bytes):
        try:
            return zlib.decompress(raw).decode("utf-8")
        except (zlib.error, UnicodeDecodeError) as exc:
            raise StoreError(f"a stored stack is damaged ({exc}); re-extract with --force") from exc
    return raw


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
