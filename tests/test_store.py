"""Store: idempotent saves, cache lookups, failures, views, FTS, prefixes, lock/read-only errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from batch_helpers import make_document, make_stack
from stackextract.errors import StoreError
from stackextract.store.database import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "stacks.db")
    yield s
    s.close()


def test_save_twice_adds_nothing(store: Store) -> None:
    doc = make_document()
    first = store.save(doc, make_stack(doc), config_key="k1")
    before = store.counts()
    second = store.save(doc, make_stack(doc), config_key="k1")
    assert first.created and not second.created
    assert second.extraction_id == first.extraction_id
    assert store.counts() == before
    assert before["documents"] == 1 and before["extractions"] == 1
    assert before["tools"] == 4 and before["reasons"] == 1
    assert before["regrets"] == 1 and before["migrations"] == 1


def test_replace_swaps_rows_without_duplicates(store: Store) -> None:
    doc = make_document()
    first = store.save(doc, make_stack(doc, company="Old"), config_key="k1")
    again = store.save(doc, make_stack(doc, company="New"), config_key="k1", replace=True)
    assert again.created and again.document_id == first.document_id
    counts = store.counts()
    assert counts["extractions"] == 1 and counts["tools"] == 4
    assert [s.company for s in store.stacks()] == ["New"]


def test_other_config_adds_an_extraction_of_the_same_document(store: Store) -> None:
    doc = make_document()
    store.save(doc, make_stack(doc), config_key="k1")
    store.save(doc, make_stack(doc, backend="llm"), config_key="k2")
    counts = store.counts()
    assert counts["documents"] == 1 and counts["extractions"] == 2
    assert len(list(store.stacks(latest=True))) == 1
    assert len(list(store.stacks(latest=False))) == 2


def test_stack_round_trips_losslessly(store: Store) -> None:
    doc = make_document()
    stack = make_stack(doc)
    store.save(doc, stack, config_key="k1")
    (back,) = store.stacks()
    assert back == stack


def test_cached_by_source_and_by_hash(store: Store) -> None:
    doc = make_document()
    store.save(doc, make_stack(doc), config_key="k1", source="https://example.com/stack")
    assert store.cached(source="https://example.com/stack", config_key="k1") is not None
    assert store.cached(doc.content_sha256, config_key="k1") is not None
    assert store.cached(doc.content_sha256, config_key="other") is None
    assert store.cached(source="https://example.com/else", config_key="k1") is None
    assert store.cached("0" * 64, config_key="k1") is None
    assert list(store.cached_sources("k1")) == ["https://example.com/stack"]
    assert list(store.cached_sources("other")) == []
    with pytest.raises(ValueError):
        store.cached(config_key="k1")


def test_failures_upsert_and_are_cleared_by_a_save(store: Store) -> None:
    url = "https://example.com/stack"
    store.record_failure(url, stage="fetch", error_type="FetchError", message="HTTP 500")
    store.record_failure(url, stage="clean", error_type="CleanError", message="no text", attempts=3)
    store.record_failure("https://b.example/x", stage="fetch", error_type="FetchError", message="x")
    (row,) = [f for f in store.failures() if f["source"] == url]
    assert row["stage"] == "clean" and row["attempts"] == 3 and row["occurrences"] == 2
    assert sorted(store.failed_sources()) == ["https://b.example/x", url]
    doc = make_document(url=url)
    store.save(doc, make_stack(doc), config_key="k1", source=url)
    assert store.failed_sources() == ["https://b.example/x"]


def test_views(store: Store) -> None:
    a = make_document(url="https://a.example/stack")
    b = make_document(url="https://b.example/stack", text=a.text + " Also Kafka.")
    store.save(a, make_stack(a), config_key="k1")
    store.save(b, make_stack(b), config_key="k1")
    store.save(b, make_stack(b, backend="llm"), config_key="k2")  # newer extraction of b
    db = store.db
    latest = list(db["latest_stacks"].rows)
    assert len(latest) == 2 and {r["backend"] for r in latest} == {"offline", "llm"}
    pop = {(r["canonical"], r["status"]): r["documents"] for r in db["tool_popularity"].rows}
    assert pop[("PostgreSQL", "uses")] == 2  # two documents, not three extractions
    assert pop[("MongoDB", "used_previously")] == 2
    (regret,) = db["most_regretted"].rows
    assert regret["tool"] == "Vue" and regret["regrets"] == 2 and regret["documents"] == 2
    (pair,) = db["migration_pairs"].rows
    assert (pair["from_tool"], pair["to_tool"], pair["migrations"]) == ("MongoDB", "PostgreSQL", 2)


def test_full_text_search(store: Store) -> None:
    doc = make_document()
    store.save(doc, make_stack(doc), config_key="k1")
    hits = list(store.db["documents"].search("joins"))
    assert [h["url"] for h in hits] == [doc.url]
    tools = list(store.db["tools"].search("PostgreSQL"))
    assert [t["name"] for t in tools] == ["Postgres"]
    assert list(store.db["documents"].search("nonexistentword")) == []


def test_first_grounded_evidence_is_flattened(store: Store) -> None:
    doc = make_document()
    store.save(doc, make_stack(doc), config_key="k1")
    vue = next(store.db["tools"].rows_where("name = ?", ["Vue"]))
    assert vue["quote"] == "I would not pick Vue again" and vue["grounded"] == 1
    assert doc.text[vue["quote_start"] : vue["quote_end"]] == vue["quote"]


def _snapshot(path: Path) -> tuple[list[tuple], dict[str, list[tuple]], str]:
    conn = sqlite3.connect(path)
    try:
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE tbl_name NOT LIKE 'se\\_%' ESCAPE '\\' ORDER BY name"
        ).fetchall()
        data = {
            name: conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall()
            for (kind, name, _t, _s) in schema
            if kind == "table" and not name.startswith("sqlite_")
        }
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        return schema, data, mode
    finally:
        conn.close()


def test_prefix_leaves_another_tools_database_untouched(tmp_path: Path) -> None:
    path = tmp_path / "their.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE documents (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
        CREATE TABLE tools (slug TEXT PRIMARY KEY, stars INTEGER);
        CREATE INDEX idx_tools_stars ON tools(stars);
        CREATE TABLE audit (what TEXT);
        CREATE TRIGGER documents_ai AFTER INSERT ON documents BEGIN
          INSERT INTO audit VALUES ('doc ' || new.id);
        END;
        CREATE VIEW popular AS SELECT slug FROM tools WHERE stars > 10;
        INSERT INTO documents (body) VALUES ('theirs');
        INSERT INTO tools VALUES ('postgres', 99), ('vue', 3);
        """
    )
    conn.commit()
    conn.close()
    before = _snapshot(path)

    db = sqlite_utils.Database(path)
    store = Store(db, prefix="se_")
    doc = make_document()
    store.save(doc, make_stack(doc), config_key="k1")
    store.record_failure("x", stage="fetch", error_type="FetchError", message="m")
    assert store.counts()["documents"] == 1
    assert list(store.db["se_documents"].search("joins"))
    assert next(store.db["se_tool_popularity"].rows)["documents"] == 1
    store.close()
    assert db.execute("SELECT 1").fetchone() == (1,)  # a given Database stays open
    db.close()

    assert _snapshot(path) == before
    conn = sqlite3.connect(path)
    ours = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'se_%'")}
    conn.close()
    assert {"se_documents", "se_extractions", "se_tools", "se_failures", "se_latest_stacks"} <= ours


def test_accepts_an_in_memory_database() -> None:
    store = Store(sqlite_utils.Database(memory=True), prefix="x_")
    doc = make_document()
    assert store.save(doc, make_stack(doc), config_key="k").created
    assert store.counts()["tools"] == 4


def test_bad_prefix_is_refused() -> None:
    with pytest.raises(StoreError, match="prefix"):
        Store(sqlite_utils.Database(memory=True), prefix="x; DROP TABLE y")


def test_locked_database_gives_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "stacks.db"
    Store(path).close()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked") as info:
            store = Store(path, timeout=0.2)
            doc = make_document()
            store.save(doc, make_stack(doc), config_key="k")
        assert "\n" not in str(info.value) and "--db" in str(info.value)
    finally:
        locker.execute("ROLLBACK")
        locker.close()


def test_read_only_database_gives_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "stacks.db"
    Store(path).close()
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    store = Store(sqlite_utils.Database(ro))
    doc = make_document()
    with pytest.raises(StoreError, match="read-only") as info:
        store.save(doc, make_stack(doc), config_key="k")
    assert "\n" not in str(info.value)
    ro.close()


def test_missing_directory_and_non_database_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope" / "stacks.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        Store(junk)
