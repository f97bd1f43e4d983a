"""Fetch faults through the real command line: one line each, the right exit code, no
traceback, and in a batch one failure row per bad URL while the good ones are stored."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from batch_helpers import page_html
from fault_helpers import cli, error_line, summary_line
from fetch_servers import FetchServer, default_routes, fetch_server, gzipped, page

__all__ = ["fetch_server"]  # the fixture, imported for pytest

BAD_PATHS = {
    "/missing": "404",
    "/500": "500",
    "/loop-a": "redirect",
    "/pdf": "application/pdf",
    "/binary-as-html": "binary",
    "/gzip-bomb": "bytes",
    "/huge": "bytes",
    "/redirect-ftp": "ftp",
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "allow", "fragment"),
    [
        ("/missing", True, "404"),
        ("/binary-as-html", True, "binary"),
        ("/page", False, "private"),  # loopback without --allow-private: refused, not fetched
        ("refused", True, "refused"),
    ],
)
def test_extract_fetch_faults_are_one_line(
    fetch_server: FetchServer, url: str, allow: bool, fragment: str
) -> None:
    target = f"http://127.0.0.1:{_closed_port()}/x" if url == "refused" else fetch_server.url(url)
    args = ["extract", target, "--backend", "offline", *(["--allow-private"] if allow else [])]
    proc = cli(*args)
    assert proc.returncode == 1, proc.stderr
    line = error_line(proc)
    assert line.startswith("error: fetch: ")
    assert fragment in line.lower()


def test_batch_records_each_fetch_fault_and_stores_the_good_pages(tmp_path: Path) -> None:
    routes = {
        **default_routes(),
        "/article": page(page_html(1)),
        "/article-gz": gzipped(page_html(2)),
        "/huge": page(b"<p>" + b"a" * 11_000_000 + b"</p>"),  # over the 10 MB cap
    }
    with FetchServer(routes) as server:
        listing = tmp_path / "urls.list"
        good = [server.url("/article"), server.url("/article-gz")]
        bad = [server.url(path) for path in BAD_PATHS]
        listing.write_text("\n".join([*good, *bad, "not a url"]) + "\n")
        db = tmp_path / "stacks.db"
        proc = cli("batch", listing, "--db", db, "--backend", "offline", "--allow-private",
                   "--no-progress", timeout=120)
        again = cli("batch", listing, "--db", db, "--backend", "offline", "--allow-private",
                    "--no-progress", timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "2 extracted, 0 cached, 9 failed" in summary_line(proc)
    conn = sqlite3.connect(db)
    try:
        rows = dict(conn.execute("SELECT source, stage || ': ' || message FROM failures"))
        assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 2
    finally:
        conn.close()
    for path, fragment in BAD_PATHS.items():
        (message,) = [m for source, m in rows.items() if source.endswith(path)]
        assert message.startswith("fetch: "), message
        assert fragment in message.lower(), message
    assert rows["not a url"].startswith("input: ")
    assert "0 extracted, 2 cached, 9 failed" in summary_line(again)
