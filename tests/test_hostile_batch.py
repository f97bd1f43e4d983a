"""The second round of hostile input, batch side (issue 15): URL-list lines that are local
paths, URLs fetched as written, huge URL lists, a .txt writeup that starts with a URL.
Real servers on 127.0.0.1, real subprocesses, real SQLite files."""

from __future__ import annotations

import resource
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_helpers import page_html
from fault_helpers import batch, cli, db_state, run_measured, summary_line
from fetch_servers import FetchServer, closed_port
from llm_servers import FakeLLMServer
from net_sandbox import sandboxed_cli
from stackextract.batch.runner import run_batch

SECRET = "Internal notes: we run Django on PostgreSQL. The root password is hunter2-planted."


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


class RawPaths(FetchServer):
    """A FetchServer whose every path is a writeup, recording each request line's target
    exactly as sent (percent-escapes, `;` parameters and query included)."""

    def __init__(self) -> None:
        super().__init__({})
        self.targets: list[str] = []

    def start(self) -> RawPaths:
        super().start()
        server = self.server
        targets = self.targets

        class Routes(dict):  # type: ignore[type-arg]
            def get(self, path: str, default: object = None) -> object:
                def handle(h: object) -> None:
                    targets.append(h.path)  # type: ignore[attr-defined]
                    body = page_html(len(targets))
                    h.send_response(200)  # type: ignore[attr-defined]
                    h.send_header("Content-Type", "text/html; charset=utf-8")  # type: ignore
                    h.send_header("Content-Length", str(len(body)))  # type: ignore
                    h.end_headers()  # type: ignore[attr-defined]
                    h.write(body)  # type: ignore[attr-defined]
                return handle

        server.routes = Routes()
        return self


@pytest.fixture
def raw_server() -> Iterator[RawPaths]:
    with RawPaths() as server:
        yield server


# --- 2. a URL list never makes a file read -------------------------------------------------


@pytest.mark.slow
def test_a_url_list_line_that_is_a_path_is_never_read(tmp_path: Path, raw_server: RawPaths) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    lines = [str(secret), "secret.txt", "~/secret.txt", "./secret.txt", str(tmp_path)]
    listing = tmp_path / "untrusted.urls"
    listing.write_text("\n".join([raw_server.url("/page/1"), *lines]) + "\n", encoding="utf-8")
    db = tmp_path / "stacks.db"
    extra = {"HOME": str(tmp_path)}
    first = batch(listing, "--allow-private", "--ignore-robots", db=db, cwd=tmp_path,
                  extra_env=extra)
    assert first.returncode == 1, first.stderr
    assert "6 sources: 1 extracted, 0 cached, 5 failed" in summary_line(first)
    failures = sorted(_rows(db, "SELECT source, stage, kind FROM failures"))
    assert failures == sorted((line, "input", "url") for line in lines)
    for args in (["--retry-failed"], [listing, "--retry-failed"]):
        again = batch(*args, "--allow-private", "--ignore-robots", db=db, cwd=tmp_path,
                      extra_env=extra)
        assert again.returncode == 1, again.stderr
        assert "5 sources: 0 extracted, 0 cached, 5 failed" in summary_line(again)
    texts = [t for (t,) in _rows(db, "SELECT text FROM documents")]
    assert len(texts) == 1 and not any("hunter2" in t for t in texts)
    assert sorted(_rows(db, "SELECT source, kind FROM failures")) == sorted(
        (line, "url") for line in lines)
    assert len(raw_server.targets) == 1


@pytest.mark.slow
def test_a_retried_path_is_never_sent_to_the_model(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text(SECRET, encoding="utf-8")
    listing = tmp_path / "untrusted.urls"
    listing.write_text(f"http://127.0.0.1:{closed_port()}/x\n{secret}\n", encoding="utf-8")
    db = tmp_path / "stacks.db"
    with FakeLLMServer() as llm:
        args = ["batch", "--db", db, "--backend", "llm", "--base-url", llm.base_url,
                "--no-progress", "--model-processes", "0", "--allow-private"]
        first = cli(*args[:3], listing, *args[3:])
        assert "2 sources: 0 extracted, 0 cached, 2 failed" in summary_line(first)
        again = cli(*args, "--retry-failed")
        assert "2 sources: 0 extracted, 0 cached, 2 failed" in summary_line(again)
        assert llm.count == 0  # the file's text never left the machine
    assert db_state(db).documents == 0


# --- 12. URLs are fetched as written --------------------------------------------------------

AS_WRITTEN = ["/a;jsessionid=ABC123", "/b?q=%E9", "/c?ref=main", "/d?utm_source=x&id=7",
              "/e?b=2&a=1", "/f/%7Euser/", "/g?next=%2Fhome%3Fx%3D1"]


def test_urls_are_fetched_as_written(tmp_path: Path, raw_server: RawPaths) -> None:
    listing = tmp_path / "list.urls"
    duplicates = [raw_server.url("/e?a=1&b=2"), raw_server.url("/c?ref=main#part")]
    listing.write_text("\n".join([raw_server.url(p) for p in AS_WRITTEN] + duplicates) + "\n",
                       encoding="utf-8")
    summary = run_batch([listing], db=tmp_path / "s.db", backend="offline", allow_private=True,
                        progress=False, workers=1, robots=False)
    assert summary.failed == 0, summary.failures
    assert sorted(raw_server.targets) == sorted(AS_WRITTEN)  # duplicates found, not fetched
    urls = {u for (u,) in _rows(tmp_path / "s.db", "SELECT url FROM documents")}
    assert urls == {raw_server.url(p) for p in AS_WRITTEN}


def test_urls_on_stdin_are_fetched_as_written_too(tmp_path: Path, raw_server: RawPaths) -> None:
    """`batch -` went through the list parser, which normalised each URL before the fetch."""
    lines = [raw_server.url(p) for p in AS_WRITTEN] + ["# a comment", "", "not a url"]
    db = tmp_path / "s.db"
    run = cli("batch", "-", "--db", db, "--backend", "offline", "--no-progress",
              "--allow-private", "--ignore-robots", "--workers", "1",
              input="\n".join(lines) + "\n")
    assert run.returncode == 1, run.stderr  # the line that is no URL is one failure
    assert "7 extracted, 0 cached, 1 failed" in run.stderr
    assert sorted(raw_server.targets) == sorted(AS_WRITTEN)
    urls = {u for (u,) in _rows(db, "SELECT url FROM documents")}
    assert urls == {raw_server.url(p) for p in AS_WRITTEN}


# --- 12. a huge URL list is read as the run goes -------------------------------------------


@pytest.mark.slow
def test_a_huge_url_list_is_streamed(tmp_path: Path, raw_server: RawPaths) -> None:
    """60 MB of URLs: the old code read and normalised all of it (about a minute, hundreds
    of MB) before the first fetch; now `--limit 1` reads one line."""
    listing = tmp_path / "huge.urls"
    line = raw_server.url("/page/{}?session=" + "x" * 20)
    with listing.open("w", encoding="utf-8") as fp:
        for start in range(0, 1_000_000, 10_000):
            fp.write("".join(line.format(i) + "\n" for i in range(start, start + 10_000)))
    assert listing.stat().st_size > 55_000_000
    db = tmp_path / "s.db"
    run = run_measured(["batch", str(listing), "--db", str(db), "--backend", "offline",
                        "--no-progress", "--allow-private", "--ignore-robots", "--limit", "1",
                        "--workers", "1"],
                       timeout=40)
    assert run.returncode == 0, run.stderr
    assert "1 sources: 1 extracted" in run.stderr
    # a child's peak RSS starts at its parent's (Linux keeps it across fork and exec): in a
    # long pytest run that parent may itself be past 250 MB. The old code peaked near 400 MB.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert run.peak_rss_mb < max(250, own + 10), run.peak_rss_mb
    assert len(raw_server.targets) == 1


def test_a_url_list_with_a_line_that_never_ends(tmp_path: Path, raw_server: RawPaths) -> None:
    listing = tmp_path / "odd.urls"
    listing.write_text(raw_server.url("/page/1") + "\n" + "x" * 3_000_000, encoding="utf-8")
    summary = run_batch([listing], db=tmp_path / "s.db", backend="offline", allow_private=True,
                        progress=False, workers=1)
    assert (summary.total, summary.done, summary.failed) == (2, 1, 1)
    assert len(summary.failures[0]["message"]) < 300


# --- 12. a .txt writeup that starts with its source URL -------------------------------------

WRITEUP = (
    "https://blog.example.com/our-stack\n\n"
    "Our stack in 2024\n\n"
    "We run our backend on Python with Django and keep our data in PostgreSQL. Redis holds\n"
    "sessions and Celery runs background jobs. The frontend is React.\n"
)


@pytest.mark.parametrize("first", ["https://blog.example.com/our-stack",
                                   "Source: https://blog.example.com/our-stack"])
def test_a_txt_writeup_that_starts_with_a_url_is_a_document(tmp_path: Path, first: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text(WRITEUP.replace(WRITEUP.splitlines()[0], first),
                                    encoding="utf-8")
    db = tmp_path / "s.db"
    # sandboxed: were it taken for a URL list, nothing could reach blog.example.com
    proc = sandboxed_cli({}, "batch", docs / "notes.txt", "--db", db, "--backend", "offline",
                         "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "1 sources: 1 extracted" in summary_line(proc)
    if first.startswith("https"):
        assert "read as a writeup, not a URL list" in proc.stderr
    assert _rows(db, "SELECT COUNT(*) FROM tools WHERE canonical = 'Django'") == [(1,)]


def test_a_txt_url_list_is_still_a_url_list_and_says_so(
    tmp_path: Path, raw_server: RawPaths
) -> None:
    listing = tmp_path / "reading.txt"
    listing.write_text("# to read\n" + "\n".join(raw_server.url(f"/page/{i}") for i in range(3))
                       + "\n", encoding="utf-8")
    proc = batch(listing, "--allow-private", db=tmp_path / "s.db")
    assert proc.returncode == 0, proc.stderr
    assert "read as a list of URLs (3 of its first 3 lines are URLs)" in proc.stderr
    assert "3 sources: 3 extracted" in summary_line(proc)
