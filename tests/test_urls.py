"""URL normalisation and URL-list parsing: examples, then properties (hypothesis)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls as url_strategy

from stackextract.errors import InputError
from stackextract.sources.urls import UrlList, is_http_url, normalize_url, parse_url_list


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://example.com", "https://example.com/"),
        ("  HTTPS://Example.COM:443/Blog/Post  ", "https://example.com/Blog/Post"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/post#comments", "https://example.com/post"),
        ("https://example.com/p?utm_source=x&utm_medium=y&b=2&a=1", "https://example.com/p?a=1&b=2"),
        ("https://example.com/p?fbclid=abc", "https://example.com/p"),
        ("https://example.com./p", "https://example.com/p"),
        ("http://例え.jp/パス", "http://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"),
        ("http://127.0.0.1:5000/x", "http://127.0.0.1:5000/x"),
        ("http://[::1]:80/", "http://[::1]/"),
        ("http://localhost:8000", "http://localhost:8000/"),
    ],
)
def test_normalize_url_examples(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("example.com/blog", "add https://"),
        ("ftp://example.com/file", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("not a url", "whitespace"),
        ("http://", "no host"),
        ("http:///path", "no host"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com:port/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("https://user:secret@example.com/", "credentials"),
        ("http://bad_host!.com/", "invalid host"),
    ],
)
def test_normalize_url_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        normalize_url(raw)


def test_credentials_are_not_echoed() -> None:
    with pytest.raises(InputError) as info:
        normalize_url("https://user:hunter2@example.com/")
    assert "hunter2" not in str(info.value)


def test_is_http_url() -> None:
    assert is_http_url("https://example.com/x")
    assert not is_http_url("mailto:someone@example.com")
    assert not is_http_url("/local/path.html")
    assert not is_http_url("")


def test_parse_url_list_skips_comments_blanks_and_duplicates() -> None:
    text = """
    # stack writeups
    https://example.com/our-stack
    https://EXAMPLE.com/our-stack#intro

    https://example.com/our-stack?utm_source=newsletter
    http://blog.example.org/why-we-moved   # not a comment: a bad line
    https://blog.example.org/2024/stack
    not a url
    ftp://example.com/file
    https://example.com/our-stack/
    """
    result = parse_url_list(text)
    assert isinstance(result, UrlList)
    assert result.urls == [
        "https://example.com/our-stack",
        "https://blog.example.org/2024/stack",
        "https://example.com/our-stack/",
    ]
    assert [number for number, _ in result.invalid] == [7, 9, 10]
    assert result.invalid[1] == (9, "not a url")


def test_parse_url_list_handles_crlf_and_bom_free_text() -> None:
    result = parse_url_list("https://a.example/\r\nhttps://b.example/\r\n")
    assert result.urls == ["https://a.example/", "https://b.example/"]
    assert result.invalid == []


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   \n"])
def test_parse_url_list_empty_raises(text: str) -> None:
    with pytest.raises(InputError, match="empty"):
        parse_url_list(text)


def test_parse_url_list_all_invalid_raises_with_first_line() -> None:
    with pytest.raises(InputError, match=r"2 invalid line\(s\).*line 1: 'nope'"):
        parse_url_list("nope\nftp://x.example/\n")


# --- properties --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_normalize_never_raises_anything_but_input_error(text: str) -> None:
    try:
        result = normalize_url(text)
    except InputError:
        return
    assert normalize_url(result) == result
    assert is_http_url(result)


@settings(max_examples=300, deadline=None)
@given(url_strategy())
def test_normalize_is_idempotent_on_real_urls(url: str) -> None:
    try:
        once = normalize_url(url)
    except InputError:
        return  # e.g. hypothesis' rare ports out of range; rejecting is fine
    assert normalize_url(once) == once
    parts = urlsplit(once)
    assert parts.scheme in ("http", "https")
    assert parts.fragment == ""
    assert parts.hostname == (parts.hostname or "").lower()
    assert parts.path.startswith("/")


@settings(max_examples=200, deadline=None)
@given(url_strategy(), st.sampled_from(["", "#frag", "#", "?utm_source=x"]), st.booleans())
def test_cosmetic_variants_normalise_alike(url: str, suffix: str, upper: bool) -> None:
    try:
        base = normalize_url(url)
    except InputError:
        return
    parts = urlsplit(url)
    host = parts.netloc.upper() if upper else parts.netloc
    variant = f"{parts.scheme.upper()}://{host}{parts.path}"
    if parts.query:
        variant += "?" + parts.query
    if suffix.startswith("?") and parts.query:
        suffix = "&" + suffix[1:]
    variant += suffix
    assert normalize_url(variant) == base


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(url_strategy(), st.text(max_size=40)), max_size=15))
def test_parse_url_list_properties(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        result = parse_url_list(text)
    except InputError:
        return
    assert result.urls, "a successful parse has at least one URL"
    assert len(result.urls) == len(set(result.urls))
    for url in result.urls:
        assert normalize_url(url) == url
    physical = text.splitlines()
    for number, line in result.invalid:
        assert physical[number - 1].strip() == line


_PIECES = st.sampled_from(
    [*"abcXYZ09:/?#&=%.-_~[]@!$'()*+,;éü", "%2F", "%7e", "%41", "%zz", "..", "./", "&amp;",
     "%20", "+", "==", "utm_source=x"]
)
_HOSTS = st.sampled_from(
    ["example.com", "EXAMPLE.com.", "例え.jp", "xn--r8jz45g.jp", "127.0.0.1", "[::1]",
     "[::FFFF:1.2.3.4]", "a_b.example", "ex.com:80", "ex.com:8080", "ex.com:443", "ÉCOLE.fr"]
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["http://", "https://", "HTTPS://"]), _HOSTS,
       st.lists(_PIECES, max_size=25).map("".join))
def test_normalize_is_idempotent_on_awkward_urls(scheme: str, host: str, rest: str) -> None:
    text = scheme + host + ("" if rest.startswith(("/", "?", "#")) else "/") + rest
    try:
        once = normalize_url(text)
    except InputError:
        return
    assert normalize_url(once) == once
    assert once.isascii()
