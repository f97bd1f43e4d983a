"""URL validation and normalisation for URL lists, so that one page is fetched and stored once."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

import courlan
import idna

from stackextract.errors import InputError

_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS label as found in real URLs: letters, digits, hyphens and (tolerated) underscores.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class UrlList:
    """The URLs of a list, normalised and deduplicated, and the lines that were not URLs."""

    urls: list[str] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line number, line)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _normalize_host(host: str, original: str) -> str:
    """Lower-case ASCII (IDNA) form of a host name, or an IP literal in its compressed form."""
    host = host.rstrip(".") if host.endswith(".") and host != "." else host
    if not host:
        raise InputError(f"no host in URL {_clip(original)!r}; check the line")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if isinstance(address, ipaddress.IPv6Address):
            if address.scope_id:
                raise InputError(f"IPv6 zone ids are not supported in {_clip(original)!r}")
            return f"[{address.compressed}]"
        return address.compressed
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise InputError(f"invalid host name in URL {_clip(original)!r}") from exc
    host = host.lower()
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InputError(f"invalid host name in URL {_clip(original)!r}")
    return host


def normalize_url(url: str) -> str:
    """Canonical form of an http(s) URL: the key under which it is fetched, cached and stored.

    Lower-cases scheme and host (IDNA for non-ASCII hosts), drops the default port, the fragment
    and tracking parameters (utm_*, fbclid, ...), sorts the query (courlan), resolves `.` and
    `..` segments. Raises InputError, with the reason, for anything that is not an http(s) URL
    with a host, or that carries credentials.
    """
    if not isinstance(url, str):
        raise InputError(f"a URL must be a string, not {type(url).__name__}")
    text = url.strip()
    if not text:
        raise InputError("empty URL")
    if _BAD_CHARS.search(text):
        raise InputError(f"URL contains whitespace or control characters: {_clip(text)!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"not a valid URL: {_clip(text)!r} ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        hint = "add https:// in front" if not parts.scheme else "only http and https are fetched"
        raise InputError(f"not an http(s) URL: {_clip(text)!r}; {hint}")
    if parts.username is not None or parts.password is not None:
        raise InputError(
            f"URL carries credentials (user:password@): {_clip(_redact(text))!r}; remove them"
        )
    host = _normalize_host(parts.hostname or "", text)
    # courlan: tracker removal, query sorting, path quoting. The fragment never reaches a server.
    try:
        cleaned = courlan.normalize_url(
            SplitResult(scheme, "h", _remove_dot_segments(parts.path), parts.query, "")
        )
    except (ValueError, UnicodeError) as exc:  # pragma: no cover - courlan is lenient
        raise InputError(f"not a valid URL: {_clip(text)!r} ({exc})") from exc
    done = urlsplit(cleaned)
    path = done.path or "/"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, path, done.query, ""))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, so that /a/../b and /b are one page."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment == ".":
            if i == len(segments) - 1:
                output.append("")
            continue
        if segment == "..":
            if len(output) > 1:
                output.pop()
            if i == len(segments) - 1:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{netloc}", parts.path, parts.query, ""))


def is_http_url(url: str) -> bool:
    """True if `url` is an http(s) URL that `normalize_url` accepts."""
    try:
        normalize_url(url)
    except InputError:
        return False
    return True


def parse_url_list(text: str) -> UrlList:
    """The URLs of a URL-list file: one a line, blanks and `#` comments skipped, deduplicated.

    Lines that are not URLs are returned in `invalid` (1-based line number, stripped line)
    so that the caller can report them; the list goes on. Raises InputError when no URL is left.
    """
    urls: list[str] = []
    seen: set[str] = set()
    invalid: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            url = normalize_url(line)
        except InputError:
            invalid.append((number, line))
            continue
        if url not in seen:
            seen.add(url)
            urls.append(url)
    if not urls:
        if invalid:
            number, line = invalid[0]
            raise InputError(
                f"no valid URL in the list: {len(invalid)} invalid line(s), the first is "
                f"line {number}: {_clip(line)!r}; put one http(s) URL on each line"
            )
        raise InputError("the URL list is empty; put one http(s) URL on each line")
    return UrlList(urls=urls, invalid=invalid)
