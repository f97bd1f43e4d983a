"""Download one page safely: SSRF guard on every hop, timeouts, size cap, type check, retries.

`fetch` (sync) and `afetch` (async) share everything but the I/O: the guard, the redirect
rules, the streaming body reader and the text decoding are plain functions below.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import contextvars
import email.utils
import errno
import functools
import ipaddress
import logging
import random
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from stackextract._version import __version__
from stackextract.errors import BlockedURLError, FetchError

logger = logging.getLogger(__name__)

PROJECT_URL = "https://pypi.org/project/stackextract/"
DEFAULT_USER_AGENT = f"stackextract/{__version__} (+{PROJECT_URL})"


def user_agent(contact: str | None = None) -> str:
    """The default User-Agent, with a way to reach whoever runs the crawl when given
    (an e-mail address or a URL): site owners can then ask before they block."""
    if not contact or not contact.strip():
        return DEFAULT_USER_AGENT
    return f"stackextract/{__version__} (+{PROJECT_URL}; contact: {' '.join(contact.split())})"
MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 30.0  # seconds; a server asking for longer is not retried
CONNECT_TIMEOUT = 10.0  # seconds, at most; `timeout` bounds it further
ACCEPTED_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "text/plain", "text/markdown", "text/x-markdown"}
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT = (
    "text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.8,*/*;q=0.1"
)
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_PIECE = 64 * 1024  # decompressed bytes produced per step, so a bomb never inflates at once
_SNIFF_BYTES = 1024

Resolver = Callable[[str, int], Sequence[str]]
"""host, port -> IP addresses as strings; raises socket.gaierror when the name does not resolve."""


@dataclass(frozen=True)
class FetchResult:
    """A downloaded page. `content_type` is the media type only ("text/html"), lower case;
    `text` is `body` decoded with `encoding` (header, BOM, <meta>, then a guess)."""

    url: str
    final_url: str
    status_code: int
    content_type: str
    body: bytes
    text: str
    encoding: str | None
    headers: dict[str, str]


# --- errors that may be retried ----------------------------------------------------------


class _Transient(Exception):
    """Wraps a FetchError that a later attempt may not hit (429, 5xx, network, timeout)."""

    def __init__(self, error: FetchError, *, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process (httpx's default trust store).

    httpx builds a new context for every client, which reads the CA bundle: ~80 ms each
    time, paid by every `fetch()` without a client and by every batch.
    """
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


# --- one overall deadline per network wait --------------------------------------------
#
# httpx's timeouts apply to each read: a server that sends a byte every few seconds resets
# them for ever (while it dribbles its headers too, where no body loop can look at a clock).
# A network backend that clamps every connect, read and write to the deadline of the current
# request (a context variable: one per thread and per task) makes the deadline absolute.

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "stackextract_deadline", default=None
)


@contextmanager
def network_deadline(deadline: float | None) -> Iterator[None]:
    """Every connect, read and write made under this block through a client from
    `new_client`/`new_async_client` (or `deadline_transport`) ends by `deadline`
    (time.monotonic()), however the server trickles its bytes. Nested blocks keep the
    earlier deadline."""
    outer = _DEADLINE.get()
    if outer is not None and (deadline is None or outer < deadline):
        deadline = outer
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None, *, reading: bool = True) -> float | None:
    """`timeout` shortened to what is left before the current deadline; raise once it is
    past."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        import httpcore

        raise (httpcore.ReadTimeout if reading else httpcore.ConnectTimeout)(
            "the overall deadline passed"
        )
    return left if timeout is None else min(timeout, left)


def _deadline_backend(sync: bool) -> Any:
    import httpcore

    if sync:
        class Stream(httpcore.NetworkStream):
            def __init__(self, inner: httpcore.NetworkStream) -> None:
                self._inner = inner

            def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
                return self._inner.read(max_bytes, _left(timeout))

            def write(self, buffer: bytes, timeout: float | None = None) -> None:
                self._inner.write(buffer, _left(timeout))

            def close(self) -> None:
                self._inner.close()

            def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                          timeout: float | None = None) -> httpcore.NetworkStream:
                return Stream(self._inner.start_tls(ssl_context, server_hostname,
                                                    _left(timeout, reading=False)))

            def get_extra_info(self, info: str) -> Any:
                return self._inner.get_extra_info(info)

        class Backend(httpcore.SyncBackend):
            def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                            local_address: str | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
                return Stream(super().connect_tcp(host, port, _left(timeout, reading=False),
                                                  local_address, socket_options))

        return Backend()

    readable: Callable[[Any], bool] | None
    try:
        from httpcore._utils import is_socket_readable as readable
    except ImportError:  # pragma: no cover - another httpcore: ask the stream each time
        readable = None

    class AStream(httpcore.AsyncNetworkStream):
        def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
            self._inner = inner
            self._socket: Any = None

        async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return await self._inner.read(max_bytes, _left(timeout))

        async def write(self, buffer: bytes, timeout: float | None = None) -> None:
            await self._inner.write(buffer, _left(timeout))

        async def aclose(self) -> None:
            await self._inner.aclose()

        async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                            timeout: float | None = None) -> httpcore.AsyncNetworkStream:
            return AStream(await self._inner.start_tls(ssl_context, server_hostname,
                                                       _left(timeout, reading=False)))

        def get_extra_info(self, info: str) -> Any:
            # the pool asks every idle connection "is_readable" on every request it places
            # (a server that closed it leaves it readable); through anyio each ask rebuilds
            # the stream's attribute map with a getpeername() call, a third of the batch's
            # fetching CPU at 64 connections. The socket is the stream's for its lifetime.
            if info in ("socket", "is_readable") and readable is not None:
                if self._socket is None:
                    self._socket = self._inner.get_extra_info("socket")
                return self._socket if info == "socket" else readable(self._socket)
            return self._inner.get_extra_info(info)

    class ABackend(httpcore.AnyIOBackend):
        async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                              local_address: str | None = None,
                              socket_options: Any = None) -> httpcore.AsyncNetworkStream:
            return AStream(await super().connect_tcp(host, port, _left(timeout, reading=False),
                                                     local_address, socket_options))

    return ABackend()


def deadline_transport(*, sync: bool = True, **options: Any) -> Any:
    """An httpx transport whose connections obey `network_deadline` (see there)."""
    transport: Any = (httpx.HTTPTransport if sync else httpx.AsyncHTTPTransport)(
        verify=options.pop("verify", ssl_context()), **options
    )
    pool = getattr(transport, "_pool", None)
    if pool is not None and hasattr(pool, "_network_backend"):
        pool._network_backend = _deadline_backend(sync)
    return transport


def new_client(**options: Any) -> httpx.Client:
    """An httpx.Client for fetching: no automatic redirects (each hop is checked), and an
    overall deadline on every request (`network_deadline`)."""
    limits = options.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
    options.setdefault("transport", deadline_transport(sync=True, limits=limits))
    return httpx.Client(follow_redirects=False, verify=ssl_context(), **options)


def new_async_client(**options: Any) -> httpx.AsyncClient:
    """The async twin of `new_client`."""
    limits = options.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
    options.setdefault("transport", deadline_transport(sync=False, limits=limits))
    return httpx.AsyncClient(follow_redirects=False, verify=ssl_context(), **options)


def crawl_client(concurrency: int) -> httpx.AsyncClient:
    """The page client of a crawl with `concurrency` fetches at a time (batch and Ray).

    As many idle connections may stay as there may be connections: httpcore (1.0.9) closes
    every idle one whenever the pool holds more connections in all (idle or not) than
    max_keepalive_connections, so a lower cap meant a new TCP/TLS connection for almost every
    page of a crawl over many sites (docs/performance.md)."""
    most = concurrency * 2
    return new_async_client(limits=httpx.Limits(max_connections=most,
                                                max_keepalive_connections=most))


def _redact(url: httpx.URL | str) -> str:
    """The URL for messages: no user info (it may hold a password or token), no fragment."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        if parsed.userinfo:
            parsed = parsed.copy_with(username=None, password=None)
        return str(parsed.copy_with(fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return str(url)


# --- the SSRF guard ----------------------------------------------------------------------


def blocked_address_reason(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> (
    str | None
):
    """Why fetching from `address` is refused by default ("loopback", "private", ...), or None
    if it is a public address. IPv4 embedded in IPv6 (mapped, 6to4, Teredo, NAT64) is checked
    as IPv4."""
    if isinstance(address, str):
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "not an IP address"
    else:
        ip = address
    if ip in _METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(ip, ipaddress.IPv6Address):
        # Mapped and NAT64 addresses *are* the IPv4 address: its verdict is the verdict.
        translated = ip.ipv4_mapped
        if translated is None and ip in _NAT64:
            translated = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if translated is not None:
            inner = blocked_address_reason(translated)
            return None if inner is None else f"{inner} (embedded in {ip.compressed})"
        # 6to4 and Teredo tunnel to an IPv4 address: refuse if that one is refused.
        tunnelled = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if tunnelled is not None:
            inner = blocked_address_reason(tunnelled)
            if inner is not None:
                return f"{inner} (embedded in {ip.compressed})"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    )
    for name, hit in checks:
        if hit:
            return name
    if not ip.is_global:
        return "non-public"
    return None


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_resolver_pool: concurrent.futures.ThreadPoolExecutor | None = None
_resolver_lock = threading.Lock()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    """Threads for getaddrinfo, which cannot be interrupted: we stop waiting at the deadline."""
    global _resolver_pool
    with _resolver_lock:
        if _resolver_pool is None:
            _resolver_pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="stackextract-dns"
            )
        return _resolver_pool


def _scheme_and_host(url: httpx.URL, shown: str) -> tuple[str, int]:
    """Check the scheme and return (ASCII host, port); raise for anything not http(s)."""
    if not url.scheme:
        raise FetchError(f"not an absolute http(s) URL: {shown!r}; check the URL", url=shown)
    if url.scheme not in ("http", "https"):
        raise BlockedURLError(
            f"refusing to fetch {shown}: only http and https URLs can be fetched", url=shown
        )
    host = url.raw_host.decode("ascii", errors="replace")
    if not host:
        raise FetchError(f"no host in URL {shown!r}; check the URL", url=shown)
    if host.rstrip(".").lower().endswith(".invalid") or host.rstrip(".").lower() == "invalid":
        # RFC 6761: names under .invalid never resolve; answer at once, without asking DNS.
        raise FetchError(f"could not resolve host {host!r} for {shown}; check the URL", url=shown)
    return host, url.port or (443 if url.scheme == "https" else 80)


def _check_addresses(addresses: Sequence[str], host: str, shown: str) -> None:
    if not addresses:
        raise FetchError(f"could not resolve host {host!r} for {shown}; check the URL", url=shown)
    for address in addresses:
        reason = blocked_address_reason(address)
        if reason is not None:
            where = address if address == host else f"{host} resolves to {address}"
            raise BlockedURLError(
                f"refusing to fetch {shown}: {where} is a {reason} address; "
                "pass allow_private=True (CLI: --allow-private) to fetch it",
                url=shown,
            )


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve_error(exc: BaseException, host: str, shown: str) -> FetchError | _Transient:
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
        return _Transient(
            FetchError(f"temporary DNS failure for {host!r} ({shown}); try again", url=shown)
        )
    if isinstance(exc, (TimeoutError, concurrent.futures.TimeoutError, asyncio.TimeoutError)):
        return _Transient(FetchError(f"DNS lookup of {host!r} timed out ({shown})", url=shown))
    return FetchError(f"could not resolve host {host!r} for {shown}; check the URL", url=shown)


def _check_host(
    url: httpx.URL,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> str | None:
    """The SSRF guard for one hop: http(s) only and, unless `allow_private`, a host whose every
    address is public. `resolver` replaces getaddrinfo (tests); the lookup is bounded by
    `timeout`. Returns the checked address to connect to (None: connect as the URL says, for
    an IP literal or with `allow_private`): resolving again to connect would let a name
    answer a public address to the guard and a private one to the connection (DNS
    rebinding). Raises BlockedURLError, or FetchError if the name does not resolve."""
    shown = _redact(url)
    host, port = _scheme_and_host(url, shown)
    if allow_private:
        return None
    ip = _literal(host)
    if ip is not None:
        _check_addresses([str(ip)], host, shown)
        return None
    future = _pool().submit(resolver or _system_resolver, host, port)
    try:
        addresses = future.result(timeout=max(timeout, 0.001))
    except (OSError, UnicodeError, ValueError, concurrent.futures.TimeoutError) as exc:
        error = _resolve_error(exc, host, shown)
        raise error from exc
    _check_addresses(addresses, host, shown)
    return addresses[0]


async def _acheck_host(
    url: httpx.URL,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> str | None:
    """`_check_host` without blocking the event loop."""
    shown = _redact(url)
    host, port = _scheme_and_host(url, shown)
    if allow_private:
        return None
    ip = _literal(host)
    if ip is not None:
        _check_addresses([str(ip)], host, shown)
        return None
    loop = asyncio.get_running_loop()
    call = loop.run_in_executor(_pool(), resolver or _system_resolver, host, port)
    try:
        addresses = await asyncio.wait_for(call, timeout=max(timeout, 0.001))
    except (OSError, UnicodeError, ValueError, asyncio.TimeoutError) as exc:
        error = _resolve_error(exc, host, shown)
        raise error from exc
    _check_addresses(addresses, host, shown)
    return addresses[0]


def _pinned_request(
    client: httpx.Client | httpx.AsyncClient,
    url: httpx.URL,
    address: str | None,
    headers: dict[str, str],
    timeout: httpx.Timeout,
) -> httpx.Request:
    """The request for `url`, sent to `address` (the one the guard checked) when given: the
    URL's host goes into the Host header and, for https, into TLS SNI and the certificate
    check, so that the server sees the same request as without the pin."""
    if address is None:
        return client.build_request("GET", url, headers=headers, timeout=timeout)
    target = url.copy_with(host=address.split("%", 1)[0])
    request = client.build_request(
        "GET", target, headers={**headers, "Host": url.netloc.decode("ascii")}, timeout=timeout
    )
    if url.scheme == "https":
        request.extensions["sni_hostname"] = url.raw_host.decode("ascii")
    return request


# --- responses: status, redirects, headers -----------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _status_error(response: httpx.Response, shown: str) -> FetchError | _Transient:
    code = response.status_code
    reason = response.reason_phrase or ""
    message = f"HTTP {code} {reason} for {shown}".replace("  ", " ")
    if code == 429 or code >= 500:
        wait = _retry_after(response.headers.get("retry-after"))
        if wait is not None and wait > MAX_RETRY_AFTER:
            return FetchError(f"{message}; the server asks to wait {wait:.0f}s, try later",
                              url=shown)
        return _Transient(FetchError(message, url=shown), retry_after=wait)
    error = FetchError(message, url=shown)
    error.status_code = code
    return error


def _next_hop(
    response: httpx.Response, current: httpx.URL, visited: set[str], hops: int, start: str
) -> httpx.URL | None:
    """The URL a redirect points at (None if `response` is not a redirect); raises on loops,
    too many hops and missing or broken Location headers."""
    if response.status_code not in _REDIRECTS:
        return None
    shown = _redact(current)
    location = response.headers.get("location")
    if not location:
        raise FetchError(f"HTTP {response.status_code} without a Location header at {shown}",
                         url=start)
    try:
        target = current.join(location.strip()).copy_with(fragment=None)
        if not target.raw_host:
            raise httpx.InvalidURL("no host")
        if target.port is not None and not 0 < target.port < 65536:
            raise httpx.InvalidURL("port out of range")
        target = httpx.URL(str(target))  # what join() lets through, parsing again may not
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FetchError(f"invalid redirect Location {location[:200]!r} at {shown}",
                         url=start) from exc
    key = str(target)
    if key in visited:
        raise FetchError(f"redirect loop at {_redact(target)}", url=start)
    if hops >= MAX_REDIRECTS:
        raise FetchError(f"too many redirects (more than {MAX_REDIRECTS}) from {start}",
                         url=start)
    visited.add(key)
    return target


def _media_type(header: str | None) -> tuple[str, str | None]:
    """(media type, charset label) from a Content-Type header; ("", None) if absent."""
    if not header:
        return "", None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media.strip().lower(), charset


def _check_headers(response: httpx.Response, *, max_bytes: int, shown: str) -> None:
    """Refuse before downloading: a declared type we cannot read, or a declared size over the
    cap."""
    media, _ = _media_type(response.headers.get("content-type"))
    if media and media not in ACCEPTED_TYPES:
        raise FetchError(
            f"unsupported content type {media} for {shown}; only HTML, XHTML, plain text and "
            "markdown pages can be read",
            url=shown,
        )
    length = response.headers.get("content-length")
    if length and length.strip().isdigit() and int(length) > max_bytes:
        raise FetchError(
            f"response larger than {max_bytes} bytes ({int(length)} declared) for {shown}; "
            "raise max_bytes to fetch it",
            url=shown,
        )


# --- the body: decompression under a cap -------------------------------------------------


class _Body:
    """Collects a response body, decompressing gzip/deflate ourselves in bounded steps so that
    the cap applies to decoded bytes and a compression bomb stops at `max_bytes`."""

    def __init__(self, content_encoding: str | None, *, max_bytes: int, shown: str) -> None:
        self.max_bytes = max_bytes
        self.shown = shown
        self.size = 0
        self._parts: list[bytes] = []
        codings = [
            c.strip().lower()
            for c in (content_encoding or "").split(",")
            if c.strip() and c.strip().lower() != "identity"
        ]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(
                f"unsupported content encoding {content_encoding!r} for {shown}", url=shown
            )
        self._coding = codings[0] if codings else None
        self._zlib: zlib._Decompress | None = None
        self._raw_deflate_tried = False
        if self._coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._coding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)

    def feed(self, raw: bytes) -> None:
        for piece in self._decode(raw):
            self._add(piece)

    def _add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.max_bytes:
            raise FetchError(
                f"response larger than {self.max_bytes} bytes for {self.shown}; "
                "raise max_bytes to fetch it",
                url=self.shown,
            )
        self._parts.append(piece)

    def _decode(self, raw: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            if raw:
                yield raw
            return
        data = raw
        while True:
            try:
                out = self._zlib.decompress(data, _PIECE)
            except zlib.error as exc:
                if self._coding == "deflate" and not self._raw_deflate_tried and not self.size:
                    # Some servers send raw deflate without the zlib wrapper.
                    self._raw_deflate_tried = True
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise FetchError(
                    f"could not decode the {self._coding} body of {self.shown}", url=self.shown
                ) from exc
            if out:
                yield out
            data = self._zlib.unconsumed_tail
            if self._zlib.eof and self._zlib.unused_data and self._coding != "deflate":
                data = self._zlib.unused_data  # a further gzip member
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                continue
            if not data and len(out) < _PIECE:
                return

    def finish(self) -> bytes:
        if self._zlib is not None:
            try:
                self._add(self._zlib.flush())
            except zlib.error as exc:  # pragma: no cover - flush rarely fails
                raise FetchError(
                    f"could not decode the {self._coding} body of {self.shown}", url=self.shown
                ) from exc
        return b"".join(self._parts)


# --- content type and text decoding ------------------------------------------------------

_SNIFF_TAGS = (
    "!doctype html", "html", "head", "script", "iframe", "h1", "div", "font", "table", "a",
    "style", "title", "b", "body", "br", "p", "meta", "article", "section", "main", "header",
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
# WHATWG treats these labels as windows-1252; so do browsers, and so do we.
_AS_CP1252 = frozenset({"latin1", "latin-1", "l1", "iso-8859-1", "iso8859-1", "iso_8859-1",
                        "ascii", "us-ascii", "iso-ir-100", "cp819", "ibm819", "x-cp1252",
                        "windows-1252"})
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _sniff_html(body: bytes) -> bool:
    """True if a body without a Content-Type starts like an HTML document (WHATWG sniffing)."""
    head = body[:_SNIFF_BYTES]
    for bom, _ in _BOMS:
        if head.startswith(bom):
            head = head[len(bom):]
            break
    text = head.lstrip(b" \t\r\n\x0c").decode("latin-1").lower()
    if text.startswith("<!--") or (text.startswith("<?xml") and "<html" in text):
        return True
    for tag in _SNIFF_TAGS:
        prefix = "<" + tag
        if text.startswith(prefix) and text[len(prefix):len(prefix) + 1] in (" ", ">", "\t",
                                                                            "\n", "\r", "/"):
            return True
    return False


# The text encodings a web page may declare (the WHATWG Encoding Standard's, by their Python
# codec names). Any other label Python knows is a transform, not a text encoding (rot13,
# base64, hex, zlib, bz2, uu, quopri), or one no browser decodes pages with (idna, punycode,
# utf-7; punycode is quadratic: 1 MB of it holds a CPU for minutes): it is ignored and the
# encoding is guessed, as for an unknown label.
_TEXT_CODECS = frozenset({
    "utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be",
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "cp874", "cp866", "cp437", "cp850", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic",
    "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5", "iso8859-6", "iso8859-7", "iso8859-8",
    "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16", "tis-620",
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "gbk", "gb2312", "gb18030", "big5",
    "big5hkscs", "euc_kr", "cp949", "iso8859-1",
})
_MAX_LABEL = 40


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None if unknown or not a text encoding."""
    if not label or len(label) > _MAX_LABEL:
        return None
    label = label.strip().lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        return None
    return name if name in _TEXT_CODECS else None


def _guess_encoding(body: bytes) -> str:
    """Encoding of a body that declares none: UTF-8 if it decodes as such; a detector for
    mostly non-ASCII bodies (Cyrillic, CJK...); windows-1252 otherwise, as browsers do."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    high = sum(1 for byte in body[:65536] if byte >= 0x80)
    if high / max(1, min(len(body), 65536)) > 0.2:
        try:
            import charset_normalizer

            best = charset_normalizer.from_bytes(body[:262144]).best()
        except Exception:  # pragma: no cover - the detector is a best effort
            best = None
        if best is not None and best.encoding:
            return _codec(best.encoding) or "cp1252"
    return "cp1252"


def _decode_text(body: bytes, media: str, charset: str | None) -> tuple[str, str | None]:
    """(text, codec) with the usual precedence: BOM, header charset, <meta>, then a guess.
    Never raises: undecodable bytes become U+FFFD."""
    if not body:
        return "", _codec(charset)
    encoding = None
    start = 0
    for bom, name in _BOMS:
        if body.startswith(bom):
            encoding, start = name, len(bom)
            break
    if encoding is None:
        encoding = _codec(charset)
    if encoding is None and media in _HTML_TYPES | {""}:
        match = _META_CHARSET.search(body[:4096])
        if match:
            encoding = _codec(match.group(1).decode("ascii", errors="replace"))
            if encoding and encoding.startswith(("utf-16", "utf-32")):
                encoding = "utf-8"  # a <meta> readable as ASCII cannot be UTF-16
    if encoding is None:
        encoding = _guess_encoding(body)
    return body[start:].decode(encoding, errors="replace"), encoding


def _finish(
    url: str,
    response: httpx.Response,
    final: httpx.URL,
    body: bytes,
    shown: str,
) -> FetchResult:
    """Check the downloaded body's type and decode it into a FetchResult."""
    media, charset = _media_type(response.headers.get("content-type"))
    if not media:
        if not _sniff_html(body):
            raise FetchError(
                f"unsupported content type (none declared, and the body is not HTML) for {shown}",
                url=shown,
            )
        media = "text/html"
    wide = (_codec(charset) or "").startswith(("utf-16", "utf-32")) or body.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    )
    if not wide and b"\x00" in body[:_SNIFF_BYTES]:
        raise FetchError(
            f"unsupported content type {media} for {shown}: the body is binary, not text",
            url=shown,
        )
    text, encoding = _decode_text(body, media, charset)
    return FetchResult(
        url=url,
        final_url=str(final),
        status_code=response.status_code,
        content_type=media,
        body=body,
        text=text,
        encoding=encoding,
        headers=dict(response.headers.items()),
    )


def _not_modified(url: str, response: httpx.Response, final: httpx.URL) -> FetchResult:
    """A 304 to a conditional request: the stored copy is still current."""
    media, _ = _media_type(response.headers.get("content-type"))
    return FetchResult(url=url, final_url=str(final), status_code=304, content_type=media,
                       body=b"", text="", encoding=None, headers=dict(response.headers.items()))


# --- network errors ----------------------------------------------------------------------


def _is_dns_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return current.errno != socket.EAI_AGAIN
        current = current.__cause__ or current.__context__
    return False


def _timed_out(shown: str, timeout: float) -> _Transient:
    return _Transient(
        FetchError(f"timed out after {timeout:g}s fetching {shown}; raise timeout or try later",
                   url=shown)
    )


@contextmanager
def _network_errors(current: httpx.URL, timeout: float) -> Iterator[None]:
    """Turn httpx exceptions into FetchError (final) or _Transient (worth another attempt)."""
    shown = _redact(current)
    try:
        yield
    except httpx.TimeoutException as exc:
        raise _timed_out(shown, timeout) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        if _is_dns_failure(exc):
            host = current.raw_host.decode("ascii", errors="replace")
            raise FetchError(f"could not resolve host {host!r} for {shown}; check the URL",
                             url=shown) from exc
        detail = _describe(exc)
        raise _Transient(FetchError(f"could not fetch {shown}: {detail}", url=shown)) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"could not fetch {shown}: {_describe(exc)}", url=shown) from exc
    except httpx.InvalidURL as exc:  # not an HTTPError: a URL httpx cannot send
        raise FetchError(f"invalid URL {shown!r}: {_describe(exc)}; check it", url=shown) from exc
    except UnicodeError as exc:  # the IDNA codec refuses the host name (a label too long...)
        raise FetchError(f"invalid host name in {shown}; check the URL", url=shown) from exc


def _describe(exc: BaseException) -> str:
    """A short cause without request details (httpx messages never include headers)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or (
            isinstance(current, OSError) and current.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        current = current.__cause__ or current.__context__
    return text or type(exc).__name__


# --- options and retries -----------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    timeout: float
    max_bytes: int
    allow_private: bool
    user_agent: str | None
    retries: int
    backoff: float
    extra_headers: tuple[tuple[str, str], ...] = ()

    @property
    def conditional(self) -> bool:
        """True when the request is conditional (If-None-Match / If-Modified-Since)."""
        return any(name.lower().startswith("if-") for name, _ in self.extra_headers)

    def headers(self, client: httpx.Client | httpx.AsyncClient | None) -> dict[str, str]:
        headers = {"Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"}
        headers.update(self.extra_headers)
        client_ua = client.headers.get("user-agent", "") if client is not None else ""
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        elif not client_ua or client_ua.startswith("python-httpx/"):
            headers["User-Agent"] = DEFAULT_USER_AGENT
        return headers

    def request_timeout(self, deadline: float) -> httpx.Timeout:
        left = max(deadline - time.monotonic(), 0.001)
        return httpx.Timeout(
            min(self.timeout, left), connect=min(CONNECT_TIMEOUT, self.timeout, left)
        )


def _options(
    timeout: float, max_bytes: int, allow_private: bool, user_agent: str | None, retries: int,
    backoff: float, headers: Mapping[str, str] | None = None,
) -> _Options:
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    if retries < 0:
        raise ValueError("retries must be >= 0")
    return _Options(float(timeout), int(max_bytes), bool(allow_private), user_agent,
                    int(retries), float(backoff), tuple((headers or {}).items()))


def _retry_kwargs(opts: _Options) -> dict[str, object]:
    def wait(state: RetryCallState) -> float:
        """Retry-After when the server gave one, else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER)
        exponential = opts.backoff * 2 ** (state.attempt_number - 1)
        return min(exponential, opts.backoff * 16) + random.uniform(0, opts.backoff)

    def log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.info("retrying (attempt %d failed: %s)", state.attempt_number, exc)

    return {
        "stop": stop_after_attempt(opts.retries + 1),
        "wait": wait,
        "retry": retry_if_exception(lambda exc: isinstance(exc, _Transient)),
        "before_sleep": log,
        "reraise": True,
    }


def _give_up(exc: _Transient | FetchError, attempts: int, shown: str) -> NoReturn:
    error = exc.error if isinstance(exc, _Transient) else exc
    if isinstance(exc, _Transient) and attempts > 1:
        final = type(error)(f"{error} (gave up after {attempts} attempts)", url=shown,
                            attempts=attempts)
        raise final from exc.__cause__
    error.attempts = attempts
    if error.url is None:
        error.url = shown
    if isinstance(exc, _Transient):
        raise error from exc.__cause__
    raise error


# --- sync --------------------------------------------------------------------------------


def fetch(
    url: str,
    *,
    timeout: float = 20.0,
    max_bytes: int = 10_000_000,
    allow_private: bool = False,
    user_agent: str | None = None,
    retries: int = 2,
    client: httpx.Client | None = None,
    backoff: float = 0.5,
    headers: Mapping[str, str] | None = None,
) -> FetchResult:
    """GET an http(s) page and return its body and decoded text.

    `timeout` bounds each attempt (connect, every read and the whole download, redirects
    included); `max_bytes` caps the decoded body; 429/5xx, timeouts and connection errors are
    retried `retries` times with exponential backoff from `backoff` seconds (honouring
    Retry-After up to MAX_RETRY_AFTER). Redirects are followed by hand, at most
    MAX_REDIRECTS, and every hop passes the SSRF guard unless `allow_private`.
    `headers` are sent too; with `If-None-Match` / `If-Modified-Since` among them, a 304
    answer comes back as a FetchResult with status_code 304 and an empty body.
    Raises BlockedURLError or FetchError (with `.attempts`, and `.status_code` for an HTTP
    error status).
    """
    opts = _options(timeout, max_bytes, allow_private, user_agent, retries, backoff, headers)
    return _fetch(url, opts, client=client)


def _fetch(
    url: str, opts: _Options, *, client: httpx.Client | None = None,
    resolver: Resolver | None = None,
) -> FetchResult:
    """`fetch` with a replaceable DNS resolver for the guard (tests)."""
    shown = _redact(url)
    own = client is None
    session = client or new_client()
    attempts = 0

    def attempt() -> FetchResult:
        nonlocal attempts
        attempts += 1
        return _attempt(url, opts, session, resolver)

    try:
        return Retrying(**_retry_kwargs(opts))(attempt)  # type: ignore[arg-type]
    except (_Transient, FetchError) as exc:
        _give_up(exc, attempts, shown)
    finally:
        if own:
            session.close()


def _parse_url(url: str) -> httpx.URL:
    try:
        return httpx.URL(url.strip()).copy_with(fragment=None)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(f"not a valid URL: {url[:200]!r}; check it", url=url) from exc


def _attempt(
    url: str, opts: _Options, client: httpx.Client, resolver: Resolver | None
) -> FetchResult:
    deadline = time.monotonic() + opts.timeout
    current = _parse_url(url)
    visited = {str(current)}
    start = _redact(current)
    headers = opts.headers(client)
    for hops in range(MAX_REDIRECTS + 1):
        address = _check_host(current, allow_private=opts.allow_private, resolver=resolver,
                              timeout=max(deadline - time.monotonic(), 0.001))
        shown = _redact(current)
        with _network_errors(current, opts.timeout), network_deadline(deadline):
            request = _pinned_request(client, current, address, headers,
                                      opts.request_timeout(deadline))
            response = client.send(request, stream=True, follow_redirects=False)
            try:
                target = _next_hop(response, current, visited, hops, start)
                if target is not None:
                    current = target
                    continue
                if response.status_code == 304 and opts.conditional:
                    return _not_modified(url, response, current)
                if response.status_code >= 300:
                    raise _status_error(response, shown)
                _check_headers(response, max_bytes=opts.max_bytes, shown=shown)
                body = _Body(response.headers.get("content-encoding"),
                             max_bytes=opts.max_bytes, shown=shown)
                for raw in response.iter_raw():
                    body.feed(raw)
                    if time.monotonic() > deadline:
                        raise _timed_out(shown, opts.timeout)
                data = body.finish()
            finally:
                response.close()
        return _finish(url, response, current, data, shown)
    raise AssertionError("unreachable: _next_hop stops after MAX_REDIRECTS")  # pragma: no cover


# --- async -------------------------------------------------------------------------------


async def afetch(
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = 20.0,
    max_bytes: int = 10_000_000,
    allow_private: bool = False,
    user_agent: str | None = None,
    retries: int = 2,
    backoff: float = 0.5,
    headers: Mapping[str, str] | None = None,
) -> FetchResult:
    """Async `fetch`; pass a shared `client` when fetching many pages."""
    opts = _options(timeout, max_bytes, allow_private, user_agent, retries, backoff, headers)
    return await _afetch(url, opts, client=client)


async def _afetch(
    url: str, opts: _Options, *, client: httpx.AsyncClient | None = None,
    resolver: Resolver | None = None,
) -> FetchResult:
    shown = _redact(url)
    own = client is None
    session = client or new_async_client()
    attempts = 0

    async def attempt() -> FetchResult:
        nonlocal attempts
        attempts += 1
        try:
            return await asyncio.wait_for(
                _aattempt(url, opts, session, resolver), timeout=opts.timeout
            )
        except asyncio.TimeoutError as exc:
            raise _timed_out(shown, opts.timeout) from exc

    try:
        return await AsyncRetrying(**_retry_kwargs(opts))(attempt)  # type: ignore[arg-type]
    except (_Transient, FetchError) as exc:
        _give_up(exc, attempts, shown)
    finally:
        if own:
            await session.aclose()


async def _aattempt(
    url: str, opts: _Options, client: httpx.AsyncClient, resolver: Resolver | None
) -> FetchResult:
    deadline = time.monotonic() + opts.timeout
    current = _parse_url(url)
    visited = {str(current)}
    start = _redact(current)
    headers = opts.headers(client)
    for hops in range(MAX_REDIRECTS + 1):
        address = await _acheck_host(current, allow_private=opts.allow_private,
                                     resolver=resolver,
                                     timeout=max(deadline - time.monotonic(), 0.001))
        shown = _redact(current)
        with _network_errors(current, opts.timeout), network_deadline(deadline):
            request = _pinned_request(client, current, address, headers,
                                      opts.request_timeout(deadline))
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                target = _next_hop(response, current, visited, hops, start)
                if target is not None:
                    current = target
                    continue
                if response.status_code == 304 and opts.conditional:
                    return _not_modified(url, response, current)
                if response.status_code >= 300:
                    raise _status_error(response, shown)
                _check_headers(response, max_bytes=opts.max_bytes, shown=shown)
                body = _Body(response.headers.get("content-encoding"),
                             max_bytes=opts.max_bytes, shown=shown)
                async for raw in response.aiter_raw():
                    body.feed(raw)
                data = body.finish()
            finally:
                await response.aclose()
        # decoding (and guessing the encoding) of up to max_bytes is CPU work: not on the loop
        return await asyncio.to_thread(_finish, url, response, current, data, shown)
    raise AssertionError("unreachable: _next_hop stops after MAX_REDIRECTS")  # pragma: no cover
