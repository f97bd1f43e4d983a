"""fetch/afetch against real local servers (tests/fetch_servers.py): every fault, one outcome."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest

from fetch_servers import (
    CP1252_TEXT,
    PAGE_HTML,
    FetchServer,
    SilentServer,
    closed_port,
    fetch_server,
    page,
    redirect,
    wait_until,
)
from net_sandbox import Sandbox
from stackextract.errors import BlockedURLError, FetchError
from stackextract.sources.fetch import (
    DEFAULT_USER_AGENT,
    FetchResult,
    _afetch,
    _check_host,
    _fetch,
    _options,
    afetch,
    blocked_address_reason,
    fetch,
    new_async_client,
)

__all__ = ["fetch_server"]  # the fixture, imported for pytest

PUBLIC_IP = "93.184.216.34"
Guarded = tuple[FetchServer, Callable[[str, int], Sequence[str]]]
FAST: dict[str, Any] = {"allow_private": True, "timeout": 2.0, "retries": 0}


@pytest.fixture(autouse=True)
def _no_way_out() -> Iterator[Sandbox]:
    """The guard now connects to the address it checked: PUBLIC_IP, which a test resolver
    gives for local servers, is routed to 127.0.0.1 here, and no other connection can leave
    the machine."""
    with Sandbox(nat={PUBLIC_IP: "127.0.0.1"}) as box:
        yield box


def fast(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for quick fetches of the local test server."""
    return {**FAST, **overrides}


# --- pages that work ---------------------------------------------------------------------


def test_html_page(fetch_server: FetchServer) -> None:
    url = fetch_server.url("/page")
    result = fetch(url, **fast())
    assert isinstance(result, FetchResult)
    assert result.url == url
    assert result.final_url == url
    assert result.status_code == 200
    assert result.content_type == "text/html"
    assert result.encoding == "utf-8"
    assert result.body == PAGE_HTML
    assert "We run Django on PostgreSQL — and we like it." in result.text
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    sent = fetch_server.request_headers[-1]
    assert sent["user-agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("stackextract/")
    assert sent["accept-encoding"] == "gzip, deflate"
    assert "text/html" in sent["accept"]


@pytest.mark.parametrize(
    ("path", "content_type", "snippet"),
    [
        ("/plain", "text/plain", "Our stack is Django."),
        ("/markdown", "text/markdown", "# Stack"),
        ("/xhtml", "application/xhtml+xml", "Our stack"),
    ],
)
def test_text_types_are_accepted(
    fetch_server: FetchServer, path: str, content_type: str, snippet: str
) -> None:
    result = fetch(fetch_server.url(path), **fast())
    assert result.content_type == content_type
    assert snippet in result.text


def test_empty_page_is_fetched_with_empty_text(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/empty"), **fast())
    assert result.status_code == 200
    assert result.body == b""
    assert result.text == ""


def test_gzip_page_is_decoded(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/gzip"), **fast())
    assert result.body == PAGE_HTML
    assert result.headers["content-encoding"] == "gzip"


def test_custom_user_agent_and_client(fetch_server: FetchServer) -> None:
    fetch(fetch_server.url("/page"), user_agent="my-bot/2.0", **fast())
    assert fetch_server.request_headers[-1]["user-agent"] == "my-bot/2.0"
    with httpx.Client(headers={"User-Agent": "their-app/1"}) as client:
        fetch(fetch_server.url("/page"), client=client, **fast())
        assert fetch_server.request_headers[-1]["user-agent"] == "their-app/1"
        assert not client.is_closed, "a caller's client is left open"
    with httpx.Client() as client:  # httpx's own default UA is replaced by ours
        fetch(fetch_server.url("/page"), client=client, **fast())
        assert fetch_server.request_headers[-1]["user-agent"] == DEFAULT_USER_AGENT


def test_bad_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="timeout"):
        fetch("http://example.com/", timeout=0)
    with pytest.raises(ValueError, match="max_bytes"):
        fetch("http://example.com/", max_bytes=0)
    with pytest.raises(ValueError, match="retries"):
        fetch("http://example.com/", retries=-1)


# --- status codes and retries ------------------------------------------------------------


def test_404_is_an_error_and_not_retried(fetch_server: FetchServer) -> None:
    pattern = r"HTTP 404 Not Found for http://127\.0\.0\.1:\d+/404"
    with pytest.raises(FetchError, match=pattern) as info:
        fetch(fetch_server.url("/404"), **fast(retries=2, backoff=0.01))
    assert info.value.attempts == 1
    assert info.value.stage == "fetch"
    assert not isinstance(info.value, BlockedURLError)
    assert fetch_server.hits["/404"] == 1


def test_500_is_retried_then_fails(fetch_server: FetchServer) -> None:
    pattern = r"HTTP 500 Internal Server Error.*after 3 attempts"
    with pytest.raises(FetchError, match=pattern) as info:
        fetch(fetch_server.url("/500"), **fast(retries=2, backoff=0.01))
    assert info.value.attempts == 3
    assert fetch_server.hits["/500"] == 3


def test_500_recovers_on_retry() -> None:
    calls = {"n": 0}
    ok = page()
    fail = page(b"busy", content_type="text/plain", status=502)

    def flaky(handler: Any) -> None:
        calls["n"] += 1
        (fail if calls["n"] == 1 else ok)(handler)

    with FetchServer({"/flaky": flaky}) as server:
        result = fetch(server.url("/flaky"), **fast(retries=2, backoff=0.01))
        assert result.status_code == 200
        assert server.hits["/flaky"] == 2


def test_retry_after_is_honoured(fetch_server: FetchServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="HTTP 503") as info:
        fetch(fetch_server.url("/503-retry-after"), **fast(retries=1, backoff=0.01))
    assert time.monotonic() - started >= 0.9  # Retry-After: 1, not the 0.01s backoff
    assert info.value.attempts == 2
    assert fetch_server.hits["/503-retry-after"] == 2


def test_a_long_retry_after_is_not_waited_for(fetch_server: FetchServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="asks to wait 3600s") as info:
        fetch(fetch_server.url("/429-long-retry-after"), **fast(retries=3, backoff=0.01))
    assert time.monotonic() - started < 2
    assert info.value.attempts == 1
    assert fetch_server.hits["/429-long-retry-after"] == 1


# --- redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/redirect", "/redirect-absolute"])
def test_redirect_is_followed(fetch_server: FetchServer, path: str) -> None:
    result = fetch(fetch_server.url(path), **fast())
    assert result.url == fetch_server.url(path)
    assert result.final_url == fetch_server.url("/page")
    assert "Our stack" in result.text


def test_redirect_to_an_error(fetch_server: FetchServer) -> None:
    with pytest.raises(FetchError, match=r"HTTP 404 Not Found for http://127\.0\.0\.1:\d+/404"):
        fetch(fetch_server.url("/redirect-to-404"), **fast())


@pytest.mark.parametrize("path", ["/loop-a", "/self-loop"])
def test_redirect_loop(fetch_server: FetchServer, path: str) -> None:
    with pytest.raises(FetchError, match=r"redirect loop at http://127\.0\.0\.1:\d+/"):
        fetch(fetch_server.url(path), **fast())
    assert fetch_server.hits[path] == 1


def test_ten_redirects_are_fine_eleven_are_too_many(fetch_server: FetchServer) -> None:
    assert fetch(fetch_server.url("/chain/10"), **fast()).final_url == fetch_server.url("/chain/0")
    with pytest.raises(FetchError, match=r"too many redirects \(more than 10\)"):
        fetch(fetch_server.url("/chain/11"), **fast())


def test_redirect_to_another_scheme_is_blocked(fetch_server: FetchServer) -> None:
    with pytest.raises(BlockedURLError, match="only http and https"):
        fetch(fetch_server.url("/redirect-ftp"), **fast())


def test_redirect_without_location(fetch_server: FetchServer) -> None:
    with pytest.raises(FetchError, match="without a Location header"):
        fetch(fetch_server.url("/redirect-no-location"), **fast())


# --- content types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "shown"),
    [("/pdf", "application/pdf"), ("/image", "image/png"), ("/octet", "application/octet-stream")],
)
def test_non_text_content_types_are_refused(
    fetch_server: FetchServer, path: str, shown: str
) -> None:
    with pytest.raises(FetchError, match=f"unsupported content type {shown}") as info:
        fetch(fetch_server.url(path), **fast(retries=2))
    assert info.value.attempts == 1


def test_missing_content_type_with_html_body_is_accepted(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/no-content-type-html"), **fast())
    assert result.content_type == "text/html"
    assert "Our stack" in result.text


@pytest.mark.parametrize("path", ["/no-content-type-binary", "/no-content-type-text"])
def test_missing_content_type_without_html_is_refused(fetch_server: FetchServer, path: str) -> None:
    with pytest.raises(FetchError, match=r"unsupported content type \(none declared"):
        fetch(fetch_server.url(path), **fast())


def test_binary_body_served_as_html_is_refused(fetch_server: FetchServer) -> None:
    with pytest.raises(FetchError, match=r"unsupported content type text/html.*binary"):
        fetch(fetch_server.url("/binary-as-html"), **fast())


# --- encodings ---------------------------------------------------------------------------


def test_latin1_declared_in_header(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/latin1-header"), **fast())
    assert "Café déjà vu à Zürich" in result.text
    assert result.encoding == "cp1252"  # latin-1 labels mean windows-1252, as in browsers


@pytest.mark.parametrize("path", ["/cp1252-meta", "/cp1252-meta-charset"])
def test_cp1252_declared_only_in_meta(fetch_server: FetchServer, path: str) -> None:
    result = fetch(fetch_server.url(path), **fast())
    assert CP1252_TEXT in result.text
    assert result.encoding == "cp1252"


def test_undeclared_cp1252(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/cp1252-undeclared"), **fast())
    assert CP1252_TEXT in result.text
    assert result.encoding == "cp1252"
    assert "\ufffd" not in result.text


def test_undeclared_cyrillic_is_detected() -> None:
    text = "Наш технологический стек: Python, PostgreSQL и Redis. Мы перешли с MySQL."
    body = f"<html><body><p>{text}</p></body></html>".encode("cp1251")
    with FetchServer({"/ru": page(body, content_type="text/html")}) as server:
        result = fetch(server.url("/ru"), **fast())
    assert text in result.text


def test_bom_wins_over_header(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/utf8-bom-wrong-header"), **fast())
    assert result.text == "<html><body>Café “ok”</body></html>"
    assert result.encoding == "utf-8"


def test_utf16_with_bom_is_not_mistaken_for_binary(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/utf16-bom"), **fast())
    assert result.text == "<html><body>Café</body></html>"


def test_unknown_charset_label_falls_back(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/bad-charset-label"), **fast())
    assert "Café" in result.text


def test_invalid_utf8_is_replaced_not_raised(fetch_server: FetchServer) -> None:
    result = fetch(fetch_server.url("/invalid-utf8"), **fast())
    assert result.text.startswith("<html><body>ok ")
    assert "\ufffd" in result.text


# --- size caps ---------------------------------------------------------------------------


def test_gzip_bomb_stops_at_the_cap(fetch_server: FetchServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="response larger than 1000000 bytes"):
        fetch(fetch_server.url("/gzip-bomb"), **fast(max_bytes=1_000_000))
    assert time.monotonic() - started < 5


def test_bad_gzip_is_an_error(fetch_server: FetchServer) -> None:
    with pytest.raises(FetchError, match="could not decode the gzip body"):
        fetch(fetch_server.url("/bad-gzip"), **fast())


def test_oversized_with_content_length_is_refused_early(fetch_server: FetchServer) -> None:
    with pytest.raises(FetchError, match=r"larger than 1000000 bytes \(2097185 declared\)"):
        fetch(fetch_server.url("/big"), **fast(max_bytes=1_000_000))


def test_oversized_without_content_length_is_cut(fetch_server: FetchServer) -> None:
    with pytest.raises(FetchError, match="response larger than 1000000 bytes for"):
        fetch(fetch_server.url("/big-no-length"), **fast(max_bytes=1_000_000))


def test_body_of_exactly_max_bytes_is_fine() -> None:
    body = b"<p>" + b"a" * 93 + b"</p>"
    assert len(body) == 100
    routes = {"/exact": page(body), "/chunked": page(body, content_length=False)}
    with FetchServer(routes) as server:
        assert fetch(server.url("/exact"), **fast(max_bytes=100)).body == body
        assert fetch(server.url("/chunked"), **fast(max_bytes=100)).body == body
        with pytest.raises(FetchError, match="larger than 99 bytes"):
            fetch(server.url("/chunked"), **fast(max_bytes=99))


# --- timeouts and network failures -------------------------------------------------------


def test_slow_drip_hits_the_overall_deadline(fetch_server: FetchServer) -> None:
    # A piece every 0.2s: no single read times out, the deadline of the attempt does.
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.6s"):
        fetch(fetch_server.url("/drip"), **fast(timeout=0.6))
    assert time.monotonic() - started < 2


def test_server_that_never_answers_times_out(fetch_server: FetchServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out") as info:
        fetch(fetch_server.url("/hang"), **fast(timeout=0.5, retries=1, backoff=0.01))
    assert time.monotonic() - started < 3
    assert info.value.attempts == 2
    assert wait_until(lambda: fetch_server.hits["/hang"] == 2)


def test_socket_that_never_answers_times_out() -> None:
    with SilentServer() as silent:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            fetch(silent.url, **fast(timeout=0.5))
        assert time.monotonic() - started < 2


def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(FetchError, match=r"connection refused.*after 2 attempts") as info:
        fetch(url, **fast(retries=1, backoff=0.01))
    assert info.value.attempts == 2


@pytest.mark.parametrize("allow_private", [False, True])
def test_dns_failure_is_fast_and_final(allow_private: bool) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"could not resolve host 'nonexistent\.invalid'") as info:
        fetch("http://nonexistent.invalid/", allow_private=allow_private, retries=2, timeout=2)
    assert not isinstance(info.value, BlockedURLError)
    assert info.value.attempts == 1
    assert time.monotonic() - started < 1


# --- SSRF guard --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback (embedded in ::ffff:7f00:1)"),
        ("::ffff:169.254.169.254", "cloud metadata (embedded"),
        ("2002:a00:1::", "private (embedded"),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", "loopback (embedded"),  # NAT64 of 127.0.0.1
        ("fe80::1%eth0", "link-local"),
    ],
)
def test_blocked_addresses(address: str, reason: str) -> None:
    result = blocked_address_reason(address)
    assert result is not None
    assert result.startswith(reason)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_address_reason(address) is None


def test_loopback_is_refused_by_default_and_never_contacted(fetch_server: FetchServer) -> None:
    with pytest.raises(BlockedURLError, match="pass allow_private=True") as info:
        fetch(fetch_server.url("/page"), retries=2)
    assert "CLI: --allow-private" in str(info.value)
    assert info.value.attempts == 1
    assert fetch_server.hits["/page"] == 0
    with pytest.raises(BlockedURLError, match=r"localhost resolves to 127\.0\.0\.1"):
        fetch(f"http://localhost:{fetch_server.port}/page")
    assert fetch_server.hits["/page"] == 0


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://example.com/", "data:text/html,hi"],
)
def test_other_schemes_are_refused_even_with_allow_private(url: str) -> None:
    with pytest.raises(BlockedURLError, match="only http and https"):
        fetch(url, allow_private=True)


def test_relative_or_garbage_url_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="not an absolute http"):
        fetch("/just/a/path", allow_private=True)


def _resolver(table: dict[str, list[str]]) -> Callable[[str, int], Sequence[str]]:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def test_check_host_with_a_resolver() -> None:
    resolver = _resolver(
        {
            "public.example": [PUBLIC_IP],
            "internal.example": ["10.0.0.5"],
            "mixed.example": [PUBLIC_IP, "192.168.0.9"],
            "metadata.example": ["169.254.169.254"],
            "mapped.example": ["::ffff:127.0.0.1"],
        }
    )

    def check(url: str, allow_private: bool = False) -> None:
        _check_host(httpx.URL(url), allow_private=allow_private, resolver=resolver)

    check("https://public.example/stack")
    check("http://internal.example/", allow_private=True)  # no lookup at all
    with pytest.raises(BlockedURLError, match=r"internal\.example resolves to 10\.0\.0\.5"):
        check("http://internal.example/")
    with pytest.raises(BlockedURLError, match=r"192\.168\.0\.9 is a private"):
        check("http://mixed.example/")
    with pytest.raises(BlockedURLError, match="cloud metadata"):
        check("http://metadata.example/latest/meta-data/")
    with pytest.raises(BlockedURLError, match="loopback"):
        check("http://mapped.example/")
    with pytest.raises(BlockedURLError, match="cloud metadata"):
        check("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedURLError, match="loopback"):
        check("http://[::ffff:127.0.0.1]:8080/")
    with pytest.raises(FetchError, match=r"could not resolve host 'unknown\.example'") as info:
        check("http://unknown.example/")
    assert not isinstance(info.value, BlockedURLError)


def test_a_hanging_resolver_does_not_hang_the_guard() -> None:
    def slow(host: str, port: int) -> Sequence[str]:
        time.sleep(1.5)
        return [PUBLIC_IP]

    started = time.monotonic()
    opts = _options(0.3, 1_000_000, False, None, 0, 0.01)
    with pytest.raises(FetchError, match=r"DNS lookup of 'slow\.example' timed out"):
        _fetch("http://slow.example/", opts, resolver=slow)
    assert time.monotonic() - started < 1


@pytest.fixture
def guarded() -> Iterator[Guarded]:
    """A server reached as `localhost`, which a test resolver calls public, so that only the
    redirect target (127.0.0.1 or a private name) is left for the guard to refuse."""
    with FetchServer({"/page": page()}) as server:
        server.routes["/to-loopback"] = redirect(server.url("/page"))
        server.routes["/to-internal"] = redirect(f"http://internal.example:{server.port}/page")
        server.routes["/to-public"] = redirect(f"http://localhost:{server.port}/page")
        yield server, _resolver({"localhost": [PUBLIC_IP], "internal.example": ["10.1.1.1"]})


@pytest.mark.parametrize(
    ("path", "message"),
    [("/to-loopback", "127.0.0.1 is a loopback"), ("/to-internal", "resolves to 10.1.1.1")],
)
def test_every_redirect_hop_is_guarded(guarded: Guarded, path: str, message: str) -> None:
    server, resolver = guarded
    opts = _options(2.0, 1_000_000, False, None, 0, 0.01)
    start = f"http://localhost:{server.port}{path}"
    with pytest.raises(BlockedURLError, match=message):
        _fetch(start, opts, resolver=resolver)
    # Even a client that would follow redirects on its own does not skip the guard.
    with httpx.Client(follow_redirects=True) as client, pytest.raises(BlockedURLError):
        _fetch(start, opts, client=client, resolver=resolver)
    assert server.hits[path] == 2
    assert server.hits["/page"] == 0
    # The same route is fine when the redirect target is allowed.
    result = _fetch(f"http://localhost:{server.port}/to-public", opts, resolver=resolver)
    assert result.final_url == f"http://localhost:{server.port}/page"


# --- secrets stay out of messages ------------------------------------------------------


def test_credentials_and_request_headers_stay_out_of_errors(fetch_server: FetchServer) -> None:
    url = f"http://alice:hunter2@127.0.0.1:{fetch_server.port}/404"
    with httpx.Client(headers={"Authorization": "Bearer sk-secret-token"}) as client, \
            pytest.raises(FetchError) as info:
        fetch(url, client=client, **fast())
    text = str(info.value) + repr(info.value.args) + str(info.value.url)
    assert "hunter2" not in text
    assert "alice" not in text
    assert "sk-secret-token" not in text


# --- async -------------------------------------------------------------------------------


def test_afetch_page_and_redirect(fetch_server: FetchServer) -> None:
    async def main() -> tuple[FetchResult, FetchResult]:
        async with httpx.AsyncClient() as client:
            first = await afetch(fetch_server.url("/page"), client=client, **fast())
            second = await afetch(fetch_server.url("/redirect"), client=client, **fast())
            assert not client.is_closed
            return first, second

    first, second = asyncio.run(main())
    assert first.body == PAGE_HTML
    assert second.final_url == fetch_server.url("/page")
    assert fetch_server.request_headers[0]["user-agent"] == DEFAULT_USER_AGENT


def test_afetch_without_a_client(fetch_server: FetchServer) -> None:
    result = asyncio.run(afetch(fetch_server.url("/cp1252-undeclared"), **fast()))
    assert CP1252_TEXT in result.text


def test_afetch_concurrently(fetch_server: FetchServer) -> None:
    paths = ["/page", "/plain", "/gzip", "/redirect", "/xhtml"]

    async def main() -> list[FetchResult]:
        async with httpx.AsyncClient() as client:
            return await asyncio.gather(
                *(afetch(fetch_server.url(p), client=client, **fast()) for p in paths)
            )

    results = asyncio.run(main())
    assert [r.status_code for r in results] == [200] * 5


def test_afetch_errors(fetch_server: FetchServer) -> None:
    async def expect(path: str, **kwargs: object) -> FetchError:
        with pytest.raises(FetchError) as info:
            await afetch(fetch_server.url(path), **fast(**kwargs))
        return info.value

    async def main() -> None:
        error = await expect("/500", retries=2, backoff=0.01)
        assert "HTTP 500" in str(error)
        assert error.attempts == 3
        assert "redirect loop" in str(await expect("/loop-a"))
        assert "too many redirects" in str(await expect("/chain/11"))
        assert "unsupported content type application/pdf" in str(await expect("/pdf"))
        assert "larger than 1000000" in str(await expect("/gzip-bomb", max_bytes=1_000_000))
        assert "larger than 1000000" in str(await expect("/big-no-length", max_bytes=1_000_000))
        assert "HTTP 404" in str(await expect("/404"))

    asyncio.run(main())
    assert fetch_server.hits["/500"] == 3
    assert fetch_server.hits["/404"] == 1


@pytest.mark.parametrize("path", ["/hang", "/drip"])
def test_afetch_timeouts(fetch_server: FetchServer, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.5s"):
        asyncio.run(afetch(fetch_server.url(path), **fast(timeout=0.5)))
    assert time.monotonic() - started < 2


def test_afetch_guard(fetch_server: FetchServer) -> None:
    with pytest.raises(BlockedURLError, match="pass allow_private=True"):
        asyncio.run(afetch(fetch_server.url("/page")))
    with pytest.raises(FetchError, match="could not resolve host"):
        asyncio.run(afetch("http://nonexistent.invalid/", retries=2))
    assert fetch_server.hits["/page"] == 0


def test_afetch_guards_every_hop(guarded: Guarded) -> None:
    server, resolver = guarded
    opts = _options(2.0, 1_000_000, False, None, 0, 0.01)
    with pytest.raises(BlockedURLError, match=r"127\.0\.0\.1 is a loopback"):
        asyncio.run(_afetch(f"http://localhost:{server.port}/to-loopback", opts,
                            resolver=resolver))
    assert server.hits["/page"] == 0


def test_afetch_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(FetchError, match="connection refused") as info:
        asyncio.run(afetch(url, **fast(retries=1, backoff=0.01)))
    assert info.value.attempts == 2


def test_a_kept_alive_connection_the_server_closed_is_not_reused() -> None:
    """The batch's client asks each idle connection whether the server closed it (our stream
    answers that from a socket it looks up once): a page server that answers keep-alive and
    then hangs up must cost a new connection, not a failed fetch."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn)
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(PAGE_HTML), PAGE_HTML))
            # closed here, although the answer said nothing of closing

    threading.Thread(target=serve, daemon=True).start()

    async def main() -> list[FetchResult]:
        async with new_async_client() as client:
            first = await afetch(f"http://127.0.0.1:{port}/a", client=client, **fast())
            await asyncio.sleep(0.2)  # the server's FIN has arrived: the idle socket reads EOF
            second = await afetch(f"http://127.0.0.1:{port}/b", client=client, **fast())
            return [first, second]

    try:
        results = asyncio.run(main())
    finally:
        listener.close()
    assert [r.status_code for r in results] == [200, 200]
    assert len(connections) == 2
