"""Another tool's database: every name is checked before anything is created (issue 16,
defect 4 of issue 15), and concurrent first runs on a fresh file (defect 9)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from batch_helpers import PageServer, make_document, make_stack
from stackextract.errors import StoreError
from stackextract.store.database import Store

HELPER = Path(__file__).with_name("batch_helpers.py")
EXE = [sys.executable, "-m", "stackextract"]

FOREIGN = {
    "tools table": """
        CREATE TABLE tools (id INTEGER PRIMARY KEY, name TEXT NOT NULL, stars INTEGER);
        INSERT INTO tools (name, stars) VALUES ('pg', 3);
    """,
    "documents table": """
        CREATE TABLE documents (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
        INSERT INTO documents (body) VALUES ('theirs');
    """,
    "documents view": """
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
        INSERT INTO notes (body) VALUES ('a note');
        CREATE VIEW documents AS SELECT id, body FROM notes;
    """,
    "tools_fts": """
        CREATE TABLE gadgets (id INTEGER PRIMARY KEY, title TEXT);
        CREATE VIRTUAL TABLE tools_fts USING FTS5 (title, content="gadgets");
        INSERT INTO gadgets (title) VALUES ('hammer');
    """,
    "an index name": """
        CREATE TABLE things (id INTEGER PRIMARY KEY, source TEXT, content_sha256 TEXT);
        CREATE INDEX idx_documents_content_sha256 ON things(content_sha256);
    """,
    "a trigger name": """
        CREATE TABLE things (id INTEGER PRIMARY KEY, v TEXT);
        CREATE TABLE log (v TEXT);
        CREATE TRIGGER tools_ai AFTER INSERT ON things BEGIN INSERT INTO log VALUES (new.v); END;
    """,
}


def _foreign(path: Path, script: str) -> bytes:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path.read_bytes()


def _schema_and_rows(path: Path) -> tuple[list[tuple], dict[str, list[tuple]]]:
    conn = sqlite3.connect(path)
    try:
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        ).fetchall()
        rows = {
            name: conn.execute(f'SELECT * FROM "{name}"').fetchall()
            for kind, name, _t, _s in schema
            if kind in ("table", "view") and not name.startswith("sqlite_")
        }
        return schema, rows
    finally:
        conn.close()


@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_a_clash_is_refused_in_one_line_and_changes_nothing(tmp_path: Path, case: str) -> None:
    path = tmp_path / "theirs.db"
    before = _foreign(path, FOREIGN[case])
    with pytest.raises(StoreError, match="--prefix") as info:
        Store(path)
    message = str(info.value)
    assert "\n" not in message and "nothing was changed" in message
    assert path.read_bytes() == before  # byte for byte
    assert not Path(f"{path}-wal").exists()
    # the same through a caller's Database (its connection stays theirs, and open)
    db = sqlite_utils.Database(path)
    with pytest.raises(StoreError, match="--prefix"):
        Store(db)
    assert db.execute("SELECT 1").fetchone() == (1,)
    db.close()
    assert path.read_bytes() == before
    # with a prefix it works, and the other tool's schema and rows are as they were
    schema, rows = _schema_and_rows(path)
    with Store(path, prefix="se_") as store:
        doc = make_document()
        store.save(doc, make_stack(doc), config_key="k")
        assert store.counts()["tools"] == 4
    after_schema, after_rows = _schema_and_rows(path)
    assert [s for s in after_schema if not s[2].startswith("se_")] == schema
    assert {k: v for k, v in after_rows.items() if not k.startswith("se_")} == rows


def test_the_other_tools_own_writes_still_work_after_a_refusal(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    _foreign(path, FOREIGN["tools table"])
    with pytest.raises(StoreError):
        Store(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO tools (name, stars) VALUES ('vue', 1)")  # no trigger of ours
    conn.commit()
    assert conn.execute("SELECT COUNT(*) FROM tools").fetchone() == (2,)
    conn.close()


def test_our_own_schema_is_not_a_clash_and_a_reopen_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "stacks.db"
    Store(path).close()
    with Store(path) as store:
        doc = make_document()
        store.save(doc, make_stack(doc), config_key="k")
        assert list(store.db["documents"].search("joins"))
        assert list(store.db["tools"].search("PostgreSQL"))


def test_an_older_store_gains_the_new_tables(tmp_path: Path) -> None:
    path = tmp_path / "stacks.db"
    with Store(path) as store:
        doc = make_document()
        store.save(doc, make_stack(doc), config_key="k")
        store.db.execute('DROP TABLE "pages"')
        store.db.execute('DROP TABLE "robots"')
    with Store(path) as store:
        assert store.counts()["documents"] == 1 and store.counts()["pages"] == 0


def test_prefix_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(StoreError, match="prefix"):
        Store(sqlite_utils.Database(memory=True), prefix="se_\n")


def test_cli_extract_and_batch_refuse_and_extract_takes_a_prefix(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    before = _foreign(path, FOREIGN["documents table"])
    page = tmp_path / "post.md"
    page.write_text("# Our stack\n\nWe run Django on PostgreSQL and cache in Redis.\n")
    for args in (["extract", str(page), "--db", str(path), "--backend", "offline"],
                 ["batch", str(page), "--db", str(path), "--backend", "offline",
                  "--no-progress"]):
        proc = subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "--prefix" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert path.read_bytes() == before
    proc = subprocess.run(
        [*EXE, "extract", str(page), "--db", str(path), "--backend", "offline",
         "--prefix", "se_"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    db = sqlite_utils.Database(path)
    assert db["se_documents"].count == 1 and db["documents"].count == 1


def _batch(db: Path, listing: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "STACKEXTRACT_DB_TIMEOUT": "60"}
    return subprocess.Popen(
        [sys.executable, str(HELPER), str(db), str(listing), "--concurrency", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.mark.parametrize("trial", range(3))
def test_two_concurrent_batches_on_a_fresh_database(tmp_path: Path, trial: int) -> None:
    n = 12
    with PageServer() as server:
        listing = tmp_path / "urls.list"
        listing.write_text("\n".join(server.url(i) for i in range(n)) + "\n")
        db = tmp_path / "fresh.db"
        procs = [_batch(db, listing), _batch(db, listing)]
        results = [p.communicate(timeout=180) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    # each run says what it wrote itself: together exactly the n documents, none twice
    assert sum(s["done"] for s in summaries) == n, summaries
    for s in summaries:
        assert s["done"] + s["cached"] == n and s["failed"] == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM extractions").fetchone() == (n,)
    assert conn.execute("SELECT COUNT(*) FROM documents").fetchone() == (n,)
    conn.close()


def test_an_older_failures_table_gains_the_kind_column(tmp_path: Path) -> None:
    path = tmp_path / "stacks.db"
    with Store(path) as store:
        store.record_failure("x", stage="fetch", error_type="FetchError", message="m")
        store.db.execute('ALTER TABLE "failures" DROP COLUMN "kind"')
    with Store(path) as store:
        assert "kind" in store.db["failures"].columns_dict
        assert [f["source"] for f in store.failures()] == ["x"]


def test_opening_waits_for_another_tools_write_instead_of_failing_at_once(
    tmp_path: Path,
) -> None:
    """SQLite answers the switch to WAL with "locked" at once, busy timeout or not, while
    another connection holds a write lock (what failed one CI run: two batches on one fresh
    file). The store waits for the lock within its timeout and leaves the other's row."""
    import threading
    import time

    path = tmp_path / "shared.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE their_log (line TEXT)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO their_log VALUES ('theirs')")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    start = time.monotonic()
    try:
        store = Store(path, timeout=10)
    finally:
        release.join()
    waited = time.monotonic() - start
    store.close()
    other.close()
    assert waited >= 0.4  # it did wait for the other writer
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT line FROM their_log").fetchall() == [("theirs",)]
    assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
    conn.close()
