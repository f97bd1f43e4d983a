"""The second round of hostile input, fetch side (issue 15): DNS rebinding, charset labels
that are not text encodings, servers that dribble their headers, broken Location headers.

Rebinding tests run inside `net_sandbox.Sandbox`: scripted DNS answers, and a connect() that
refuses every non-loopback address locally, so that a connection to the "public" answer
fails on this machine and never goes out. Servers are real, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fetch_servers import PAGE_HTML, FetchServer, page, redirect
from net_sandbox import Sandbox, sandboxed_cli
from stackextract.errors import FetchError
from stackextract.sources.fetch import afetch, fetch

PUBLIC = "93.184.216.34"  # never contacted: the sandbox refuses it (or routes it, see nat)
PUBLIC_2 = "151.101.1.69"
TEXT = "We run Django on PostgreSQL — and we like it."


@pytest.fixture
def server() -> Iterator[FetchServer]:
    with FetchServer({"/page": page()}) as srv:
        yield srv


# --- 1. DNS rebinding --------------------------------------------------------------------

REBINDINGS = {
    "public-then-loopback": [[PUBLIC], ["127.0.0.1"]],
    "public-then-mapped-loopback": [[PUBLIC], ["::ffff:127.0.0.1"]],
    "two-public-then-loopback": [[PUBLIC, PUBLIC_2], ["127.0.0.1"]],
    "public-twice-then-loopback": [[PUBLIC], [PUBLIC], ["127.0.0.1"]],
    "alternating": [[PUBLIC], ["127.0.0.1"], [PUBLIC], ["127.0.0.1"]],
}


@pytest.mark.parametrize("script", REBINDINGS.values(), ids=REBINDINGS.keys())
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_rebinding_name_is_connected_to_the_address_checked(
    server: FetchServer, script: list[list[str]], mode: str
) -> None:
    url = f"http://rebind.test:{server.port}/page"
    with Sandbox(answers={"rebind.test": script}) as box, pytest.raises(FetchError) as info:
        if mode == "sync":
            fetch(url, retries=1, timeout=2, backoff=0.01)
        else:
            asyncio.run(afetch(url, retries=1, timeout=2, backoff=0.01))
    assert server.hits["/page"] == 0  # the loopback server was never reached
    assert box.refused and {host for host, _ in box.refused} <= {PUBLIC, PUBLIC_2}
    # the first attempt connects to the public answer (refused by the sandbox); a retry
    # is guarded again and refused for the loopback answer, if the script gives one
    assert "connection refused" in str(info.value) or "loopback" in str(info.value)


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True


@pytest.fixture
def v6_server() -> Iterator[tuple[int, list[str]]]:
    """A page on [::1] (the loopback of IPv6), recording the paths it serves."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE_HTML)))
            self.end_headers()
            self.wfile.write(PAGE_HTML)

        def log_message(self, *args: object) -> None:
            pass

    try:
        srv = _V6Server(("::1", 0), Handler)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1], hits
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_name_rebinding_to_ipv6_loopback_is_pinned(
    v6_server: tuple[int, list[str]], mode: str
) -> None:
    port, hits = v6_server
    url = f"http://rebind6.test:{port}/page"
    with Sandbox(answers={"rebind6.test": [["2606:4700:4700::1111"], ["::1"]]}) as box, \
            pytest.raises(FetchError):
        if mode == "sync":
            fetch(url, retries=0, timeout=2)
        else:
            asyncio.run(afetch(url, retries=0, timeout=2))
    assert hits == []
    assert box.refused == [("2606:4700:4700::1111", port)]
    # the same server, asked for directly with --allow-private, answers: the test can fail
    assert TEXT in fetch(f"http://[::1]:{port}/page", allow_private=True, timeout=2).text


def test_a_rebinding_redirect_hop_is_pinned_too(server: FetchServer) -> None:
    """Hop 1 is a public host (routed to the local server by the sandbox's NAT); it
    redirects to a name that answers public to the guard and loopback afterwards."""
    server.routes["/hop"] = redirect(f"http://rebind.test:{server.port}/page")
    answers = {"public.test": [[PUBLIC]], "rebind.test": [[PUBLIC_2], ["127.0.0.1"]]}
    for mode in ("sync", "async"):
        with Sandbox(answers=answers, nat={PUBLIC: "127.0.0.1"}) as box, \
                pytest.raises(FetchError, match="connection refused"):
            url = f"http://public.test:{server.port}/hop"
            if mode == "sync":
                fetch(url, retries=0, timeout=2)
            else:
                asyncio.run(afetch(url, retries=0, timeout=2))
        assert box.refused == [(PUBLIC_2, server.port)]
    assert server.hits["/hop"] == 2
    assert server.hits["/page"] == 0


def test_a_pinned_request_keeps_its_host_header(server: FetchServer) -> None:
    with Sandbox(answers={"public.test": [[PUBLIC]]}, nat={PUBLIC: "127.0.0.1"}):
        result = fetch(f"http://public.test:{server.port}/page", retries=0, timeout=2)
        aresult = asyncio.run(afetch(f"http://public.test:{server.port}/page", timeout=2))
    assert TEXT in result.text and TEXT in aresult.text
    assert result.final_url == f"http://public.test:{server.port}/page"
    assert [h["host"] for h in server.request_headers] == [f"public.test:{server.port}"] * 2


def _db_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.slow
def test_rebinding_through_the_cli_extract_and_batch(server: FetchServer, tmp_path: Path) -> None:
    log = tmp_path / "refused.json"
    config = {"answers": {"rebind.test": [[PUBLIC], ["127.0.0.1"]]}, "log": str(log)}
    url = f"http://rebind.test:{server.port}/page"
    proc = sandboxed_cli(config, "extract", url, "--backend", "offline")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: fetch: ")
    assert json.loads(log.read_text())[0][0] == PUBLIC
    listing = tmp_path / "list.urls"
    listing.write_text(url + "\n", encoding="utf-8")
    db = tmp_path / "stacks.db"
    proc = sandboxed_cli(config, "batch", listing, "--db", db, "--backend", "offline",
                         "--no-progress")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert server.hits["/page"] == 0
    assert _db_rows(db, "SELECT COUNT(*) FROM documents") == [(0,)]
    assert _db_rows(db, "SELECT stage FROM failures") == [("fetch",)]


# --- 5. charset labels that are not text encodings ---------------------------------------

NOT_TEXT = ["rot13", "ROT-13", "base64", "hex", "zlib", "bz2", "uu", "quopri", "idna",
            "punycode", "utf-7", "x-no-such-label", "unicode_escape", "raw_unicode_escape",
            "a" * 5000]


@pytest.mark.parametrize("label", NOT_TEXT)
def test_a_non_text_charset_label_falls_back_to_detection(
    server: FetchServer, label: str
) -> None:
    server.routes["/header"] = page(PAGE_HTML, content_type=f"text/html; charset={label}")
    server.routes["/meta"] = page(
        PAGE_HTML.replace(b"<meta charset='utf-8'>", f"<meta charset='{label}'>".encode()),
        content_type="text/html",
    )
    for path in ("/header", "/meta"):
        result = fetch(server.url(path), allow_private=True, retries=0, timeout=5)
        assert TEXT in result.text, (path, result.text[:200])
        assert result.encoding == "utf-8"
        aresult = asyncio.run(afetch(server.url(path), allow_private=True, timeout=5))
        assert aresult.text == result.text


def test_a_megabyte_labelled_punycode_is_read_in_linear_time(server: FetchServer) -> None:
    """Decoded as punycode this page held the whole batch (event loop included) for 142 s."""
    body = b"<html><body><article><p>" + b"Django and PostgreSQL. " * 45_000 + b"</p>"
    server.routes["/big"] = page(body, content_type="text/html; charset=punycode")
    result = asyncio.run(afetch(server.url("/big"), allow_private=True, timeout=20))
    assert result.text.count("Django and PostgreSQL.") == 45_000


# --- 6. a server that dribbles its headers (or its status line) --------------------------


class Dribbler:
    """A raw TCP server that sends `head` one byte every `interval` seconds, for ever:
    never idle long enough for a read timeout."""

    def __init__(self, head: bytes, interval: float = 0.05) -> None:
        self.head = head
        self.interval = interval
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.stop = threading.Event()
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                i = 0
                while not self.stop.wait(self.interval):
                    conn.sendall(self.head[i % len(self.head):][:1])
                    i += 1
            except OSError:
                return

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def __enter__(self) -> Dribbler:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()


DRIBBLES = {
    "headers": b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000,
    "many-headers": b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 5000,
    "status-line": b"HTTP/1.1 200 " + b"O" * 10_000,
}


@pytest.mark.parametrize("head", DRIBBLES.values(), ids=DRIBBLES.keys())
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_dribbled_headers_hit_the_overall_deadline(head: bytes, mode: str) -> None:
    with Dribbler(head) as slow:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out after 1s"):
            if mode == "sync":
                fetch(slow.url, allow_private=True, timeout=1, retries=1, backoff=0.01)
            else:
                asyncio.run(afetch(slow.url, allow_private=True, timeout=1, retries=1,
                                   backoff=0.01))
        elapsed = time.monotonic() - started
    assert slow.connections == 2  # two attempts, each cut at its deadline
    assert elapsed < 15  # 2 x 1 s and a backoff (a loaded CI is slow); without it: never


# --- 11. Location headers httpx cannot send ----------------------------------------------

LOCATIONS = ["http:127.0.0.1:{port}/page", "http:127.0.0.1:{port}", "http://[::1",
             "http://a:99999/", "//:0/", "https:/", "http://" + "a" * 300 + ".com/",
             "http://a\x00b/"]


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_broken_location_is_one_fetch_error(server: FetchServer, location: str) -> None:
    server.routes["/r"] = redirect(location.format(port=server.port))
    for mode in ("sync", "async"):
        with pytest.raises(FetchError) as info:
            if mode == "sync":
                fetch(server.url("/r"), allow_private=True, retries=0, timeout=2)
            else:
                asyncio.run(afetch(server.url("/r"), allow_private=True, retries=0, timeout=2))
        assert "\n" not in str(info.value)
