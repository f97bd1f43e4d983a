"""Model calls in forked processes: same results as in-process, failures recorded, a dead
process stops the batch cleanly and a re-run finishes the rest."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_helpers import PageServer, child_pids, page_html
from fault_helpers import stored_extractions
from llm_servers import Answer, FakeLLMServer
from stackextract.batch.runner import run_batch
from stackextract.store.database import Store

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="model-call processes need fork"
)

ANSWER = {
    "company": "Example",
    "tools": [
        {"name": "Django", "status": "uses", "category": "backend",
         "quote": "We run our backend on Python with Django"},
        {"name": "Redis", "status": "uses", "category": "database",
         "quote": "Redis holds our sessions and caches"},
        {"name": "Oracle", "status": "uses", "category": "database",
         "quote": "Oracle stores our ledger"},  # invented: not in the page
    ],
    "reasons": [],
    "regrets": [],
    "migrations": [],
}


def _pages(directory: Path, n: int) -> Path:
    directory.mkdir()
    for i in range(n):
        (directory / f"post-{i}.html").write_bytes(page_html(i))
    return directory


def _batch(sources: list, db: Path, server: FakeLLMServer, **kw: object) -> object:
    return run_batch(
        sources,
        db=db,
        backend="llm",
        base_url=server.base_url,
        api_key="sk-test",
        model="m",
        progress=False,
        stream=io.StringIO(),
        **kw,
    )


def _tools(db: Path) -> list[tuple[str, str, str]]:
    with Store(db) as store:
        rows = store.db.execute(
            "SELECT d.source, t.canonical, t.status FROM tools t "
            "JOIN extractions e ON t.extraction_id = e.id JOIN documents d ON e.document_id = d.id"
        ).fetchall()
    return sorted((Path(source).name, name, status) for source, name, status in rows)


def test_model_processes_store_what_the_main_process_stores(tmp_path: Path) -> None:
    docs = _pages(tmp_path / "docs", 6)
    with FakeLLMServer([Answer("ok", payload=ANSWER)]) as server:
        forked = _batch([docs], tmp_path / "forked.db", server, model_processes=2)
        inline = _batch([docs], tmp_path / "inline.db", server, model_processes=0)
        assert server.count == 12
    assert (forked.done, forked.failed) == (inline.done, inline.failed) == (6, 0)
    assert forked.requests == inline.requests == 6
    tools = _tools(tmp_path / "forked.db")
    assert tools == _tools(tmp_path / "inline.db")
    assert {name for _, name, _ in tools} == {"Django", "Redis"}  # grounded in the process


def test_model_errors_in_a_process_become_failures(tmp_path: Path) -> None:
    docs = _pages(tmp_path / "docs", 3)
    db = tmp_path / "stacks.db"
    with FakeLLMServer([Answer("status", status=400)]) as server:
        summary = _batch([docs], db, server, model_processes=2)
    assert (summary.done, summary.failed) == (0, 3)
    with Store(db) as store:
        failures = store.failures()
    assert {(f["stage"], f["error_type"]) for f in failures} == {("extract", "ExtractionError")}
    assert all("400" in f["message"] and "sk-test" not in f["message"] for f in failures)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_killed_model_process_stops_the_batch_and_a_rerun_finishes(tmp_path: Path) -> None:
    n = 24
    db = tmp_path / "stacks.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OPENAI_API_KEY": "sk-test"}
    with (
        PageServer() as pages,
        FakeLLMServer([Answer("slow", payload=ANSWER, delay=0.3)]) as model,
    ):
        listing = tmp_path / "urls.list"
        listing.write_text("".join(f"{pages.url(i)}\n" for i in range(n)))
        command = [sys.executable, "-m", "stackextract.cli", "batch", str(listing), "--db",
                   str(db), "--backend", "llm", "--base-url", model.base_url, "--model", "m",
                   "--concurrency", "2", "--model-processes", "2", "--allow-private",
                   "--no-progress"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
        deadline = time.monotonic() + 60
        while stored_extractions(db) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.05)
        for child in child_pids(proc.pid):  # every worker and model-call process, as OOM would
            os.kill(child, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        assert "Traceback" not in err
        (line,) = [x for x in err.splitlines() if x.startswith("error:")]
        assert "run the same batch again to resume" in line
        stored = stored_extractions(db)
        assert 3 <= stored < n

        again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert again.returncode == 0, again.stderr
        assert f"{n - stored} extracted, {stored} cached, 0 failed" in again.stderr
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT source) FROM documents").fetchone() \
            == (n, n)
        assert conn.execute("SELECT COUNT(*) FROM extractions").fetchone()[0] == n
    finally:
        conn.close()


LONG_PAGE = "".join(
    f"<p>Part {i}. We run our backend on Python with Django, and Redis holds our sessions and "
    "caches; this paragraph is long enough that the document needs several chunks. "
    + "More words about the same stack and why it works well for our team. " * 12
    + "</p>"
    for i in range(12)
)


@pytest.mark.parametrize(("processes", "concurrency"), [(0, 2), (2, 2), (2, 3)])
def test_concurrency_caps_model_requests_of_chunked_documents(
    tmp_path: Path, processes: int, concurrency: int
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"long-{i}.html").write_text(
            f"<html><body><article><h1>Stack {i}</h1>{LONG_PAGE}</article></body></html>"
        )
    with FakeLLMServer([Answer("slow", payload=ANSWER, delay=0.15)]) as server:
        summary = _batch(
            [docs], tmp_path / "stacks.db", server, concurrency=concurrency,
            model_processes=processes, chunk_tokens=300,
        )
        assert summary.done == 3 and summary.failed == 0, summary.failures
        assert server.count >= 9  # several chunks a document, each up to 4 at once alone
        # the processes hold more documents than that, but split the cap between them
        assert server.max_in_flight == concurrency


def test_request_shares_add_up_to_the_cap() -> None:
    from stackextract.batch.shards import shares

    assert shares(16, 2) == [8, 8]
    assert shares(3, 2) == [2, 1]
    assert shares(5, 3) == [2, 2, 1]
    assert shares(None, 2) == [None, None]


def test_arun_batch_inside_a_running_loop(tmp_path: Path) -> None:
    import asyncio

    from stackextract import arun_batch
    from stackextract.errors import ConfigError

    docs = _pages(tmp_path / "docs", 3)

    async def main() -> object:
        with pytest.raises(ConfigError, match="arun_batch"):
            run_batch([docs], db=tmp_path / "x.db", backend="offline")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        summary = await arun_batch(
            [docs], db=tmp_path / "stacks.db", backend="offline", progress=False,
            stream=io.StringIO(), workers=1,
        )
        ticker.cancel()
        assert ticks > 5  # the caller's loop kept running during the batch
        return summary

    summary = asyncio.run(main())
    assert summary.done == 3 and summary.failed == 0
