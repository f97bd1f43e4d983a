"""Ray Data engine on a real local Ray cluster (2 CPUs, one per test module) against the
local page and model servers: same stored rows as run_batch, a killed actor, the request cap.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("STACKEXTRACT_REQUIRE_RAY"):  # CI: a missing Ray is a failure, not a skip
    import ray
else:
    ray = pytest.importorskip("ray", reason="the ray extra: pip install -e '.[dev,ray]'")

from batch_helpers import PAGE_PAYLOAD, PageServer, page_html
from llm_servers import Answer, FakeLLMServer
from stackextract.batch.runner import run_batch
from stackextract.ray.dataset import extract_dataset, run_job
from stackextract.ray.parts import import_parts, iter_rows, part_files
from stackextract.store.database import Store

pytestmark = [pytest.mark.ray, pytest.mark.slow]

FAST = {"retries": 0, "timeout": 10.0}
# every column of a stored row that does not depend on when or where it was made
_COMPARED = {
    "documents": ["source", "url", "final_url", "path", "title", "author", "published",
                  "site_name", "language", "format", "content_sha256", "text"],
    "extractions": ["config_key", "backend", "model", "prompt_version", "schema_version",
                    "prompt_tokens", "completion_tokens", "total_tokens", "requests",
                    "dropped_items", "chunks", "company"],
    "tools": ["position", "name", "canonical", "category", "status", "purpose", "in_catalog",
              "quote", "quote_start", "quote_end", "grounded", "confidence", "evidence_json"],
    "reasons": ["position", "tool", "text", "quote", "quote_start", "quote_end", "grounded",
                "confidence", "evidence_json"],
    "regrets": ["position", "tool", "text", "would_instead", "quote", "quote_start",
                "quote_end", "grounded", "confidence", "evidence_json"],
    "migrations": ["position", "from_tool", "to_tool", "reasons_json", "quote", "quote_start",
                   "quote_end", "grounded", "confidence", "evidence_json"],
}


@pytest.fixture(scope="module")
def cluster() -> Any:
    """One local Ray per module: starting it costs several seconds."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()


def stored_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row keyed by its document's source, without ids and timestamps."""
    conn = sqlite3.connect(db)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        cols = ", ".join(f"d.{c}" for c in _COMPARED["documents"])
        out["documents"] = sorted(conn.execute(f"SELECT {cols} FROM documents d").fetchall())
        cols = ", ".join(f"e.{c}" for c in _COMPARED["extractions"])
        out["extractions"] = sorted(conn.execute(
            f"SELECT d.source, {cols} FROM extractions e JOIN documents d "
            "ON d.id = e.document_id").fetchall())
        for table in ("tools", "reasons", "regrets", "migrations"):
            cols = ", ".join(f"t.{c}" for c in _COMPARED[table])
            out[table] = sorted(conn.execute(
                f"SELECT d.source, {cols} FROM {table} t JOIN extractions e "
                "ON e.id = t.extraction_id JOIN documents d ON d.id = e.document_id"
            ).fetchall())
        out["failures"] = sorted(conn.execute(
            "SELECT source, stage, error_type, message FROM failures").fetchall())
        return out
    finally:
        conn.close()


def counts(db: Path) -> dict[str, int]:
    with Store(db) as store:
        return store.counts()


@pytest.mark.parametrize("backend", ["offline", "llm"])
def test_the_same_200_documents_as_run_batch_and_a_rerun_does_nothing(
    cluster: Any, tmp_path: Path, backend: str
) -> None:
    with (
        PageServer() as server,
        FakeLLMServer([Answer("ok", payload=PAGE_PAYLOAD)]) as model,
    ):
        settings: dict[str, Any] = {"backend": backend}
        if backend == "llm":
            settings |= {"base_url": model.base_url, "api_key": "sk-test", "model": "m"}
        listing = tmp_path / "urls.txt"
        listing.write_text("".join(f"{server.url(i)}\n" for i in range(200))
                           + f"{server.base_url}/missing\nnot a url\n", encoding="utf-8")
        local = run_batch([listing], db=tmp_path / "local.db", allow_private=True,
                          progress=False, stream=io.StringIO(), fetch_options=FAST,
                          **settings)
        assert (local.done, local.failed) == (200, 2)
        def page_hits() -> int:  # both engines also read robots.txt (a 404 here)
            return sum(n for path, n in server.hits.items() if path != "/robots.txt")

        hits = page_hits()

        out = tmp_path / "results"
        job = run_job([listing], out=out, allow_private=True, fetch_options=FAST,
                      stream=io.StringIO(), **settings)
        assert (job.total, job.done, job.failed, job.skipped) == (202, 200, 2, 0)
        assert page_hits() == 2 * hits  # every page fetched once more
        assert job.config_key == local.config_key

        summary = import_parts([out], db=tmp_path / "ray.db")
        assert (summary.stored, summary.failures, summary.bad_files) == (200, 2, [])
        ours, theirs = stored_rows(tmp_path / "ray.db"), stored_rows(tmp_path / "local.db")
        assert len(ours["tools"]) >= 400  # 2 per page from the model, more offline
        if backend == "llm":  # one request per document each way, usage stored alike
            assert model.count == 400
        for table in ours:
            assert ours[table] == theirs[table], table

        # a re-import adds nothing, a re-run resumes: nothing fetched, nothing written
        before = counts(tmp_path / "ray.db")
        again = import_parts([out], db=tmp_path / "ray.db")
        assert (again.stored, again.already, again.failures) == (0, 200, 0)
        assert counts(tmp_path / "ray.db") == before
        rerun = run_job([listing], out=out, allow_private=True, fetch_options=FAST,
                        stream=io.StringIO(), **settings)
        assert (rerun.done, rerun.skipped, rerun.requests) == (0, 200, 0)
        assert rerun.failed == 2  # failures are tried again
        assert page_hits() == 2 * hits + 1  # only /missing
        assert model.count == (400 if backend == "llm" else 0)  # no model call


def test_robots_txt_keeps_pages_out_on_the_cluster_too(cluster: Any, tmp_path: Path) -> None:
    """Each actor reads a site's robots.txt once and obeys it for the user agent, as batch
    does: a disallowed URL is a `blocked` row, never fetched, imported as batch records it
    (a page with outcome robots, no failure); its Crawl-delay spaces one actor's requests;
    `robots=False` fetches everything."""
    rules = ("User-agent: stackextract-test\nDisallow: /page/1\nCrawl-delay: 0.4\n\n"
             "User-agent: *\nDisallow: /\n")
    with PageServer(robots=rules) as server:
        listing = tmp_path / "urls.txt"
        listing.write_text("".join(f"{server.url(i)}\n" for i in range(4)), encoding="utf-8")
        options: dict[str, Any] = {
            "backend": "offline", "allow_private": True, "actors": 1, "stream": io.StringIO(),
            "fetch_options": {**FAST, "user_agent": "stackextract-test"},
        }
        job = run_job([listing], out=tmp_path / "out", **options)
        assert (job.done, job.blocked, job.failed, job.skipped) == (3, 1, 0, 0), job
        assert server.hits["/page/1"] == 0 and server.hits["/robots.txt"] == 1
        starts = sorted(t for path, ts in server.times.items() if path.startswith("/page/")
                        for t in ts)
        assert len(starts) == 3
        assert all(b - a >= 0.35 for a, b in itertools.pairwise(starts)), starts
        summary = import_parts([tmp_path / "out"], db=tmp_path / "ray.db")
        assert (summary.stored, summary.blocked, summary.failures) == (3, 1, 0)
        with Store(tmp_path / "ray.db") as store:
            assert store.page(server.url(1))["outcome"] == "robots"
            assert store.document(server.url(1)) is None
            assert store.failures() == []
        # a re-run does not ask again: the blocked URL is done under this configuration
        again = run_job([listing], out=tmp_path / "out", **options)
        assert (again.done, again.blocked, again.skipped) == (0, 0, 4)
        # another user agent falls under `*`: everything is kept out; robots=False: nothing
        other = run_job([listing], out=tmp_path / "other", **{
            **options, "fetch_options": {**FAST, "user_agent": "someone-else"}})
        assert (other.done, other.blocked) == (0, 4)
        ignored = run_job([listing], out=tmp_path / "ignored", robots=False, **options)
        assert (ignored.done, ignored.blocked) == (4, 0)
        assert server.hits["/page/1"] == 1
        # min_relevance is a filter of its own configuration key, as in batch
        assert ignored.config_key == job.config_key
        relevant = run_job([listing], out=tmp_path / "ignored", robots=False, min_relevance=0.0,
                           **options)
        assert relevant.done == 4 and relevant.config_key.endswith("-rel0")


def test_the_cap_on_model_requests_holds_across_the_cluster(
    cluster: Any, tmp_path: Path
) -> None:
    rows = [{"html": page_html(i).decode(), "source": f"https://example.com/{i}"}
            for i in range(36)]
    settings = {"backend": "llm", "api_key": "sk-test", "model": "fake-model"}

    def peak(**cap: Any) -> tuple[int, list[dict[str, Any]]]:
        with FakeLLMServer([Answer("slow", payload=PAGE_PAYLOAD, delay=0.3)]) as model:
            ds = ray.data.from_items(rows, override_num_blocks=6)
            result = extract_dataset(ds, base_url=model.base_url, actors=2, concurrency=6,
                                     batch_size=6, **settings, **cap).take_all()
            return model.max_in_flight, result

    capped, result = peak(max_model_requests=3)
    assert capped == 3
    assert len(result) == 36 and {r["status"] for r in result} == {"ok"}
    assert all(r["n_tools"] == 2 and r["requests"] == 1 for r in result)
    free, _ = peak()  # the same job without the cap: 2 actors x 6 documents in flight
    assert free > 3


def _actor_pids() -> list[int]:
    """Processes of this test's Ray actors running the extraction (their process title)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"SourceWorker" in cmdline and b"MapWorker" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_a_killed_actor_loses_nothing_and_doubles_nothing(cluster: Any, tmp_path: Path) -> None:
    n = 60
    with (
        PageServer() as pages,
        FakeLLMServer([Answer("slow", payload=PAGE_PAYLOAD, delay=0.15)]) as model,
    ):
        urls = [pages.url(i) for i in range(n)]
        killed: list[int] = []

        def kill_one() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and model.count < 12:
                time.sleep(0.05)
            pids = _actor_pids()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        killer = threading.Thread(target=kill_one, daemon=True)
        killer.start()
        out = tmp_path / "results"
        job = run_job(urls, out=out, backend="llm", base_url=model.base_url, api_key="sk-test",
                      model="fake-model", allow_private=True, fetch_options=FAST,
                      concurrency=4, batch_size=5, max_model_requests=4,
                      stream=io.StringIO())
        killer.join(timeout=5)
    assert killed, "no actor process was found to kill"
    assert not Path(f"/proc/{killed[0]}").exists()
    assert job.failed == 0
    summary = import_parts([out], db=tmp_path / "ray.db")
    assert summary.failures == 0 and summary.bad_files == []
    with Store(tmp_path / "ray.db") as store:
        sources = [row["source"] for row in store.db["documents"].rows]
        assert sorted(sources) == sorted(urls)  # every document exactly once
        assert store.counts()["extractions"] == n
    assert import_parts([out], db=tmp_path / "ray.db").stored == 0


def test_cli_engine_ray_then_import(cluster: Any, tmp_path: Path) -> None:
    """The CLI in a subprocess (its own local Ray), JSONL parts, import and its errors."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"post-{i}.html").write_bytes(page_html(i))
    out = tmp_path / "results"
    exe = Path(sys.executable).with_name("stackextract")
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [str(exe), "batch", str(docs), "--engine", "ray", "--out", str(out), "--out-format",
         "jsonl", "--backend", "offline", "--db", str(tmp_path / "a.db")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "6 sources: 6 extracted" in done.stderr
    files = part_files([out])
    assert files and all(f.suffix == ".jsonl" for f in files)
    rows = [row for f in files for row in iter_rows(f)]
    assert len(rows) == 6 and all(json.loads(r["stack_json"])["tools"] for r in rows)
    assert counts(tmp_path / "a.db")["extractions"] == 6

    again = subprocess.run([str(exe), "import", str(out), "--db", str(tmp_path / "a.db")],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 stored, 6 already stored" in again.stderr

    broken = out / "broken.jsonl"
    broken.write_text('{"source": "x", "status": "ok"', encoding="utf-8")
    bad = subprocess.run([str(exe), "import", str(out), "--db", str(tmp_path / "b.db")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "1 unreadable files skipped" in bad.stderr and "broken.jsonl" in bad.stderr
    assert counts(tmp_path / "b.db")["extractions"] == 6


def test_the_readme_example_runs(tmp_path: Path) -> None:
    """The README's Ray Python example, as written, in a fresh interpreter (its own Ray)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## On a Ray cluster", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parent.parent, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    first, second = (line.split() for line in lines)
    assert first[:2] == ["https://example.com/mercurial", "ok"] and int(first[2]) >= 3
    assert second[0].startswith("sha256:") and second[1] == "ok" and int(second[2]) >= 2
