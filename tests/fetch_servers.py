"""Real HTTP servers on 127.0.0.1 for fetch tests: pages, errors, redirects and misbehaviour.

Usage::

    with FetchServer() as server:          # default routes, see `default_routes`
        fetch(server.url("/page"), allow_private=True)
        server.hits["/page"]               # requests the server received on that path

    server = FetchServer({"/x": page(b"<p>hi</p>")})   # or your own routes

`fetch_server` is a pytest fixture (import it into a test module to use it);
`closed_port()` gives a port nobody listens on; `SilentServer` accepts connections and
never answers.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import pytest

Handler = Callable[["_RequestHandler"], None]

PAGE_HTML = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Our stack</title></head>"
    "<body><article><h1>Our stack</h1><p>We run Django on PostgreSQL — and we like it.</p>"
    "</article></body></html>"
).encode()

CP1252_TEXT = "Café — naïve “quotes”, déjà vu… Our stack: Django and PostgreSQL."


# --- response recipes -------------------------------------------------------------------


def page(
    body: bytes | str = PAGE_HTML,
    *,
    content_type: str | None = "text/html; charset=utf-8",
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
    content_length: bool = True,
) -> Handler:
    """A complete response; `content_type=None` sends no Content-Type header at all;
    `content_length=False` sends the body chunked, without a Content-Length."""
    data = body.encode() if isinstance(body, str) else body

    def handle(h: _RequestHandler) -> None:
        h.send_response(status)
        if content_type is not None:
            h.send_header("Content-Type", content_type)
        for name, value in headers:
            h.send_header(name, value)
        if content_length:
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.write(data)
        else:
            h.send_chunked(_pieces(data, 65536))

    return handle


def status(code: int, *, retry_after: str | None = None, body: bytes = b"error") -> Handler:
    """An error status with a small text body (and a Retry-After header if given)."""
    headers = [("Retry-After", retry_after)] if retry_after is not None else []
    return page(body, content_type="text/plain", status=code, headers=headers)


def redirect(location: str, *, code: int = 302) -> Handler:
    """A redirect to `location` (absolute or relative)."""
    return page(b"", content_type="text/plain", status=code, headers=[("Location", location)])


def drip(
    piece: bytes = b"<p>x</p>", *, interval: float = 0.2, count: int = 1000
) -> Handler:
    """A chunked HTML body that sends `piece` every `interval` seconds: slow, never idle."""

    def handle(h: _RequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")

        def pieces() -> Iterator[bytes]:
            for _ in range(count):
                if h.server.stopping.wait(interval):
                    return
                yield piece

        h.send_chunked(pieces())

    return handle


def hang(*, seconds: float = 30.0) -> Handler:
    """Read the request, then say nothing (until the server stops or `seconds` pass)."""

    def handle(h: _RequestHandler) -> None:
        h.server.stopping.wait(seconds)
        h.close_connection = True

    return handle


@lru_cache(maxsize=4)
def gzip_bomb_bytes(decoded_size: int) -> bytes:
    """`decoded_size` zero bytes, gzip-compressed (about 1000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    parts = []
    left = decoded_size
    while left > 0:
        parts.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


def gzip_bomb(decoded_size: int = 100 * 1024 * 1024) -> Handler:
    """A small gzip body (Content-Encoding: gzip) that inflates to `decoded_size` bytes."""

    def handle(h: _RequestHandler) -> None:
        data = gzip_bomb_bytes(decoded_size)
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.write(data)

    return handle


def gzipped(body: bytes, *, content_type: str = "text/html; charset=utf-8") -> Handler:
    """A normal page sent with Content-Encoding: gzip."""
    data = gzip.compress(body)
    return page(data, content_type=content_type, headers=[("Content-Encoding", "gzip")])


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def default_routes() -> dict[str, Handler]:
    """Every case the fetch tests need, on fixed paths."""
    big = b"<html><body>" + b"<p>" + b"a" * (2 * 1024 * 1024) + b"</p></body></html>"
    routes: dict[str, Handler] = {
        "/page": page(),
        "/plain": page("Our stack is Django.", content_type="text/plain; charset=utf-8"),
        "/markdown": page("# Stack\n\nDjango.", content_type="text/markdown"),
        "/xhtml": page(PAGE_HTML, content_type="application/xhtml+xml"),
        "/empty": page(b"", content_type="text/html; charset=utf-8"),
        "/404": status(404),
        "/410": status(410),
        "/500": status(500),
        "/503-retry-after": status(503, retry_after="1"),
        "/429-long-retry-after": status(429, retry_after="3600"),
        "/redirect": redirect("/page"),
        "/redirect-absolute": redirect("/page", code=301),
        "/redirect-to-404": redirect("/404", code=307),
        "/loop-a": redirect("/loop-b"),
        "/loop-b": redirect("/loop-a"),
        "/self-loop": redirect("/self-loop"),
        "/redirect-ftp": redirect("ftp://127.0.0.1/file"),
        "/redirect-no-location": page(b"", content_type="text/plain", status=302),
        "/pdf": page(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", content_type="application/pdf"),
        "/image": page(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", content_type="image/png"),
        "/octet": page(b"\x00\x01\x02", content_type="application/octet-stream"),
        "/no-content-type-html": page(PAGE_HTML, content_type=None),
        "/no-content-type-binary": page(b"\x00\x01\x02\x03binary", content_type=None),
        "/no-content-type-text": page(b"just some words", content_type=None),
        "/binary-as-html": page(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01" * 50, content_type="text/html"
        ),
        "/latin1-header": page(
            "<html><body><p>Café déjà vu à Zürich</p></body></html>".encode("latin-1"),
            content_type="text/html; charset=ISO-8859-1",
        ),
        "/cp1252-meta": page(
            (
                "<html><head><meta http-equiv='Content-Type' "
                "content='text/html; charset=windows-1252'><title>t</title></head>"
                f"<body><p>{CP1252_TEXT}</p></body></html>"
            ).encode("cp1252"),
            content_type="text/html",
        ),
        "/cp1252-meta-charset": page(
            f"<html><head><meta charset=windows-1252></head><body>{CP1252_TEXT}</body></html>"
            .encode("cp1252"),
            content_type="text/html",
        ),
        "/cp1252-undeclared": page(
            f"<html><body><p>{CP1252_TEXT}</p></body></html>".encode("cp1252"),
            content_type="text/html",
        ),
        "/utf8-bom-wrong-header": page(
            b"\xef\xbb\xbf" + "<html><body>Café “ok”</body></html>".encode(),
            content_type="text/html; charset=iso-8859-1",
        ),
        "/utf16-bom": page(
            "\ufeff<html><body>Café</body></html>".encode("utf-16-le"),
            content_type="text/html",
        ),
        "/bad-charset-label": page(
            "<html><body>Café</body></html>".encode(),
            content_type="text/html; charset=no-such-charset",
        ),
        "/invalid-utf8": page(
            b"<html><body>ok \xff\xfe broken \xc3 bytes</body></html>",
            content_type="text/html; charset=utf-8",
        ),
        "/gzip": gzipped(PAGE_HTML),
        "/gzip-bomb": gzip_bomb(),
        "/bad-gzip": page(
            b"this is not gzip", content_type="text/html", headers=[("Content-Encoding", "gzip")]
        ),
        "/big": page(big, content_type="text/html"),
        "/big-no-length": page(big, content_type="text/html", content_length=False),
        "/drip": drip(),
        "/hang": hang(),
    }
    # A chain of 12 redirects: /chain/12 -> /chain/11 -> ... -> /chain/0 (a page).
    routes["/chain/0"] = page()
    for i in range(1, 13):
        routes[f"/chain/{i}"] = redirect(f"/chain/{i - 1}")
    return routes


# --- the server -------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.record(path, self)
        handler = self.server.routes.get(path)
        if handler is None:
            page(b"no such route", content_type="text/plain", status=404)(self)
            return
        try:
            handler(self)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            self.close_connection = True

    def write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_chunked(self, pieces: Iterable[bytes]) -> None:
        """End the headers and send `pieces` with Transfer-Encoding: chunked."""
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for piece in pieces:
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Handler]) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.routes = routes
        self.hits: Counter[str] = Counter()
        self.request_headers: list[dict[str, str]] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up (timeouts, size caps) are expected here: stay quiet."""

    def record(self, path: str, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.hits[path] += 1
            self.request_headers.append({k.lower(): v for k, v in handler.headers.items()})


class FetchServer:
    """A threaded HTTP server on 127.0.0.1 and a random port; a context manager."""

    def __init__(self, routes: dict[str, Handler] | None = None) -> None:
        self.routes = default_routes() if routes is None else routes
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def server(self) -> _Server:
        if self._server is None:
            raise RuntimeError("FetchServer is not started; use it as a context manager")
        return self._server

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def hits(self) -> Counter[str]:
        """Requests received per path."""
        return self.server.hits

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """Headers of every request received, lower-cased names, in order."""
        return self.server.request_headers

    def start(self) -> FetchServer:
        self._server = _Server(self.routes)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FetchServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SilentServer:
    """A socket that listens and lets the kernel accept connections, but never answers."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None

    def __enter__(self) -> SilentServer:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        return self

    @property
    def url(self) -> str:
        assert self._sock is not None
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/"

    def __exit__(self, *exc_info: object) -> None:
        if self._sock is not None:
            self._sock.close()


def closed_port() -> int:
    """A local TCP port with nothing listening on it (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fetch_server() -> Iterator[FetchServer]:
    """A started FetchServer with the default routes."""
    with FetchServer() as server:
        yield server


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll `predicate` until it is true or `timeout` passes (for server-side counters)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
