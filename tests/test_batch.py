"""Batch runs against real local servers and files: cache, failures, retry, kill and Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from batch_helpers import PageServer, page_html
from fault_helpers import stored_extractions
from llm_servers import Answer, FakeLLMServer
from stackextract.batch.runner import expand_sources, run_batch
from stackextract.errors import InputError, StoreError
from stackextract.store.database import Store

HELPER = Path(__file__).with_name("batch_helpers.py")
FAST = {"retries": 0, "timeout": 10.0}

MARKDOWN = """---
title: Moving to Postgres
author: Bo
---
# Moving to Postgres

We moved from MySQL to PostgreSQL last year because of its JSON support.
Our API is written in Go and runs on Kubernetes. Honestly, I regret adopting Kafka so early.
"""


def _files(directory: Path, n: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = directory / f"post-{i}.html"
        path.write_bytes(page_html(i))
        paths.append(path)
    md = directory / "notes" / "moving.md"
    md.parent.mkdir(exist_ok=True)
    md.write_text(MARKDOWN, encoding="utf-8")
    (directory / ".hidden.html").write_bytes(page_html(999))
    (directory / "image.png").write_bytes(b"\x89PNG")
    return [*paths, md]


def _run(sources: list, db: Path | Store, **kw) -> object:
    kw.setdefault("backend", "offline")
    kw.setdefault("progress", False)
    kw.setdefault("stream", io.StringIO())
    kw.setdefault("fetch_options", FAST)
    return run_batch(sources, db=db, **kw)


def _counts(db: Path) -> dict[str, int]:
    with Store(db) as store:
        return store.counts()


def test_directory_then_rerun_adds_nothing_and_calls_no_model(tmp_path: Path) -> None:
    files = _files(tmp_path / "docs", 4)
    db = tmp_path / "stacks.db"
    first = _run([tmp_path / "docs"], db)
    assert (first.total, first.done, first.failed) == (5, 5, 0), first.failures
    assert first.model_calls == 5 and first.exit_code == 0
    counts = _counts(db)
    assert counts["documents"] == 5 and counts["extractions"] == 5 and counts["tools"] > 10

    second = _run([tmp_path / "docs"], db)
    assert (second.done, second.cached, second.model_calls) == (0, 5, 0)
    assert _counts(db) == counts
    with Store(db) as store:
        paths = {row["path"] for row in store.db["documents"].rows}
    assert paths == {str(p.resolve()) for p in files}


def test_same_text_under_another_source_reuses_the_extraction(tmp_path: Path) -> None:
    a = tmp_path / "a.html"
    a.write_bytes(page_html(1))
    b = tmp_path / "b.html"
    b.write_bytes(page_html(1))
    db = tmp_path / "stacks.db"
    _run([a], db)
    summary = _run([a, b], db)
    assert (summary.cached, summary.model_calls) == (2, 0)
    counts = _counts(db)
    assert counts["documents"] == 2 and counts["extractions"] == 2  # both sources findable


def test_force_re_extracts_without_duplicates(tmp_path: Path) -> None:
    _files(tmp_path / "docs", 2)
    db = tmp_path / "stacks.db"
    _run([tmp_path / "docs"], db)
    before = _counts(db)
    forced = _run([tmp_path / "docs"], db, force=True)
    assert forced.done == 3 and forced.model_calls == 3
    assert _counts(db) == before


def test_url_list_failures_and_retry(tmp_path: Path) -> None:
    db = tmp_path / "stacks.db"
    with PageServer() as server:
        server.broken.add("/page/3")
        listing = tmp_path / "urls.txt"
        listing.write_text(
            "\n".join(
                [
                    "# pages to read",
                    *(server.url(i) for i in range(5)),
                    server.url(0) + "#comments",  # same page after normalisation
                    "",
                    f"{server.base_url}/missing",
                    f"{server.base_url}/error",
                    "not a url at all",
                ]
            ),
            encoding="utf-8",
        )
        first = _run([listing], db, allow_private=True)
        assert (first.total, first.done, first.failed) == (8, 4, 4)
        assert first.exit_code == 1
        with Store(db) as store:
            failures = {f["source"]: f for f in store.failures()}
        assert failures["not a url at all"]["stage"] == "input"
        assert failures[f"{server.base_url}/missing"]["stage"] == "fetch"
        assert "404" in failures[f"{server.base_url}/missing"]["message"]
        assert failures[server.url(3)]["error_type"] == "FetchError"
        assert server.hits["/page/0"] == 1

        again = _run([listing], db, allow_private=True)
        assert (again.cached, again.failed, again.model_calls) == (4, 4, 0)
        assert server.hits["/page/0"] == 1  # cached by source: not even fetched

        server.broken.clear()
        retry = _run([], db, allow_private=True, retry_failed=True)
        assert retry.total == 4 and retry.done == 1 and retry.failed == 3
        assert server.hits["/page/1"] == 1
    with Store(db) as store:
        assert server.url(3) not in store.failed_sources()
        assert store.counts()["extractions"] == 5
        (failure,) = [f for f in store.failures() if f["source"].endswith("/missing")]
        # a 404 is not fetched again on the plain re-run, only on --retry-failed
        assert failure["occurrences"] == 2 and server.hits["/missing"] == 2


def test_limit_and_plain_progress_lines(tmp_path: Path) -> None:
    _files(tmp_path / "docs", 4)
    out = io.StringIO()
    summary = _run([tmp_path / "docs"], tmp_path / "s.db", limit=2, stream=out)
    assert summary.total == 2 and summary.done == 2
    assert "batch: 2/2" in out.getvalue()


def test_rich_progress_does_not_break(tmp_path: Path) -> None:
    _files(tmp_path / "docs", 1)
    out = io.StringIO()
    summary = _run([tmp_path / "docs"], tmp_path / "s.db", stream=out, progress=True)
    assert summary.done == 2


def test_store_under_a_prefix_in_another_database(tmp_path: Path) -> None:
    path = tmp_path / "theirs.db"
    theirs = sqlite_utils.Database(path)
    theirs["documents"].insert({"id": 1, "body": "theirs"}, pk="id")
    _files(tmp_path / "docs", 1)
    summary = _run([tmp_path / "docs"], Store(theirs, prefix="se_"))
    assert summary.done == 2
    assert theirs["se_documents"].count == 2
    assert list(theirs["documents"].rows) == [{"id": 1, "body": "theirs"}]


def test_bad_commands_raise_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        _run([tmp_path / "nope.html"], tmp_path / "s.db")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.html"):
        _run([tmp_path / "empty"], tmp_path / "s.db")
    empty_list = tmp_path / "empty.urls"
    empty_list.write_text("# nothing\n\n")
    with pytest.raises(InputError, match="empty"):
        _run([empty_list], tmp_path / "s.db")
    with pytest.raises(StoreError, match="does not exist"):
        _run([tmp_path], tmp_path / "missing-dir" / "s.db")


def test_url_list_rule(tmp_path: Path) -> None:
    urls = tmp_path / "reading.txt"
    urls.write_text(
        "\ufeff# my list\n\nhttps://Example.com/a#x\nhttps://example.com/a\nftp://x\n",
        encoding="utf-8",
    )
    prose = tmp_path / "essay.txt"
    prose.write_text("Our stack\n\nWe use https://example.com for everything.\n")
    listed = tmp_path / "more.list"
    listed.write_text("https://example.org/b\n")
    jobs, problems = expand_sources([urls, prose, listed, "https://example.com/a?utm_source=x"])
    assert [(j.key, j.kind) for j in jobs] == [
        ("https://example.com/a", "url"),
        (str(prose.resolve()), "file"),
        ("https://example.org/b", "url"),
    ]
    assert [p.key for p in problems] == ["ftp://x"]


LLM_ANSWER = {
    "company": "Example",
    "tools": [
        {
            "name": "Django",
            "status": "uses",
            "category": "backend",
            "quote": "We run our backend on Python with Django",
        },
        {"name": "Oracle", "status": "uses", "category": "database", "quote": "Oracle rocks"},
    ],
    "reasons": [],
    "regrets": [],
    "migrations": [],
}


def _llm(server: FakeLLMServer) -> dict:
    return {"backend": "llm", "base_url": server.base_url, "api_key": "sk-test", "model": "m"}


def test_llm_backend_batch_is_grounded_and_cached(tmp_path: Path) -> None:
    _files(tmp_path / "docs", 2)
    db = tmp_path / "stacks.db"
    with FakeLLMServer([Answer("ok", payload=LLM_ANSWER)]) as server:
        first = _run([tmp_path / "docs"], db, **_llm(server))
        assert first.done == 3 and first.failed == 0, first.failures
        calls = server.count
        assert calls >= 3
        again = _run([tmp_path / "docs"], db, **_llm(server))
        assert (again.cached, again.model_calls, server.count) == (3, 0, calls)
    with Store(db) as store:
        names = {row["canonical"] for row in store.db["tools"].rows}
        (ext,) = {row["backend"] for row in store.db["extractions"].rows}
    assert "Oracle" not in names  # never in the text: grounding dropped it
    assert ext == "llm"
    for stack in Store(db).stacks():
        assert all(t.grounded for t in stack.tools)


def test_model_errors_become_extract_failures(tmp_path: Path) -> None:
    _files(tmp_path / "docs", 1)
    db = tmp_path / "stacks.db"
    with FakeLLMServer([Answer("status", status=400)]) as server:
        summary = _run([tmp_path / "docs"], db, **_llm(server))
    assert summary.failed == 2 and summary.done == 0
    with Store(db) as store:
        stages = {f["stage"] for f in store.failures()}
        assert stages == {"extract"}
        assert "sk-test" not in json.dumps(store.failures())


# --- real subprocesses: SIGKILL and Ctrl-C ----------------------------------------------


def _start(db: Path, listing: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(HELPER), str(db), str(listing), "--concurrency", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(db: Path, n: int, proc: subprocess.Popen[str], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stored = stored_extractions(db)
        if stored >= n:
            return stored
        if proc.poll() is not None:
            pytest.fail(f"batch ended early: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("batch made no progress")


def _listing(tmp_path: Path, server: PageServer, n: int) -> Path:
    listing = tmp_path / "urls.list"
    listing.write_text("\n".join(server.url(i) for i in range(n)) + "\n")
    return listing


def _assert_each_once(db: Path, n: int) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == n
        assert conn.execute("SELECT COUNT(DISTINCT source) FROM documents").fetchone()[0] == n
        assert conn.execute("SELECT COUNT(*) FROM extractions").fetchone()[0] == n
        orphans = conn.execute(
            "SELECT COUNT(*) FROM tools WHERE extraction_id NOT IN (SELECT id FROM extractions)"
        ).fetchone()[0]
        assert orphans == 0
        assert conn.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 0
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_stores_each_document_once(tmp_path: Path) -> None:
    n = 30
    db = tmp_path / "stacks.db"
    with PageServer(delay=0.25) as server:
        listing = _listing(tmp_path, server, n)
        proc = _start(db, listing)
        _wait_for(db, 5, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.communicate()
        stored = stored_extractions(db)
        assert 5 <= stored < n, "the kill should land mid-run"

        server.delay = 0.0
        again = _start(db, listing)
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["cached"] == stored and summary["done"] == n - stored
        _assert_each_once(db, n)
        for i in range(n):  # a stored page is never fetched again
            assert server.hits[f"/page/{i}"] <= 2


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_a_rerun_resumes(tmp_path: Path) -> None:
    n = 30
    db = tmp_path / "stacks.db"
    with PageServer(delay=0.25) as server:
        listing = _listing(tmp_path, server, n)
        proc = _start(db, listing)
        _wait_for(db, 3, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "stopping" in err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["interrupted"] and summary["skipped"] > 0
        assert summary["done"] == stored_extractions(db)  # what it reports is what it committed

        server.delay = 0.0
        again = _start(db, listing)
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        _assert_each_once(db, n)
