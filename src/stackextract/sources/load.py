"""Turn any source (URL, file, stdin, raw HTML/markdown/text) into a Document."""

from __future__ import annotations

import os
import re
import stat
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackextract.errors import CleanError, ConfigError, InputError
from stackextract.models import Document
from stackextract.sources.markdown import (
    is_markdown_path,
    looks_like_markdown,
    markdown_to_document,
)

if TYPE_CHECKING:
    from stackextract.sources.fetch import FetchResult

DEFAULT_MAX_BYTES = 10_000_000
MAX_BYTES_ENV = "STACKEXTRACT_MAX_BYTES"
# tab, newline, vertical tab, form feed, carriage return, escape: found in real text files
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
GZIP_SUFFIX = ".gz"
_TEXT_SUFFIXES = (".txt", ".text", "")
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(source: str) -> bool:
    return bool(_URL_RE.match(source.strip()))


def looks_like_html(text: str) -> bool:
    head = text[:2000].lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<?xml")) or bool(
        re.search(r"<(html|head|body|article|div|p)[\s>]", head)
    )


def document_from_html(
    html: str | bytes, *, url: str | None = None, final_url: str | None = None,
    path: str | None = None,
) -> Document:
    """Clean an HTML page (trafilatura, see clean.py) into a Document with its metadata."""
    from stackextract.sources.clean import clean_html

    page = clean_html(html, url=final_url or url)
    return Document(
        text=page.text,
        format="html",
        url=url,
        final_url=final_url,
        path=path,
        title=page.title,
        author=page.author,
        published=page.date,
        site_name=page.site_name,
        language=page.language,
    )


def document_from_text(text: str, **source: Any) -> Document:
    """Plain text: the first line is the title when it looks like one."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise CleanError("the text is empty; nothing to extract", url=source.get("url"))
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    title = first if 0 < len(first) <= 150 and (len(lines) == 1 or not lines[1].strip()) else None
    return Document(text=text, format="text", title=title, **source)


def document_from_string(content: str, **source: Any) -> Document:
    """Raw content whose kind is sniffed: HTML, markdown, or plain text."""
    if looks_like_html(content):
        return document_from_html(content, url=source.get("url"),
                                  final_url=source.get("final_url"), path=source.get("path"))
    if looks_like_markdown(content):
        return markdown_to_document(content, **source)
    return document_from_text(content, **source)


def document_from_fetch(result: FetchResult) -> Document:
    """A Document from a fetched response, by content type and then by sniffing."""
    ctype = (result.content_type or "").lower()
    src = {"url": result.url, "final_url": result.final_url}
    if "html" in ctype or looks_like_html(result.text):
        # the fetcher already decoded with the header charset, which trafilatura cannot see
        return document_from_html(result.text, url=result.url, final_url=result.final_url)
    if "markdown" in ctype or is_markdown_path(result.final_url.split("?")[0]):
        return markdown_to_document(result.text, **src)
    return document_from_text(result.text, **src)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def default_max_bytes() -> int:
    """The size cap for files, stdin and pages: STACKEXTRACT_MAX_BYTES, else 10 MB."""
    raw = os.environ.get(MAX_BYTES_ENV, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{MAX_BYTES_ENV}={raw!r} is not a positive whole number of bytes")
    return int(raw)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return "special file"


def _binary_reason(data: bytes) -> str | None:
    """Why these bytes are not text (NUL bytes, control bytes), or None if they may be."""
    head = data[:8192]
    if b"\x00" in head:
        return "it contains NUL bytes"
    controls = sum(1 for b in head if (b < 32 and b not in _TEXT_CONTROLS) or b == 127)
    if head and controls / len(head) > 0.05:
        return f"{controls} of its first {len(head)} bytes are control characters"
    return None


def _read_bytes(path: Path, limit: int, *, streams: bool) -> bytes:
    """The bytes of a regular file (or, with `streams`, a pipe), refused above `limit`.

    The size is checked before reading, and the read itself stops at limit + 1 bytes, so a
    huge file never reaches memory. A FIFO or device in a directory would block a batch
    forever (or never end), so only an explicit path (`streams=True`) may be one.
    """
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        if path.is_symlink():
            raise InputError(f"{path} is a broken symbolic link; fix or remove it") from exc
        raise InputError(f"no such file: {path}") from exc
    except PermissionError as exc:
        raise InputError(f"cannot read {path}: permission denied") from exc
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path} is a directory; use `stackextract batch` for directories")
    regular = stat.S_ISREG(info.st_mode)
    if not regular and not (streams and (stat.S_ISFIFO(info.st_mode) or
                                         stat.S_ISCHR(info.st_mode))):
        raise InputError(
            f"{path} is a {_file_kind(info.st_mode)}, not a regular file; skipped, as "
            "reading it could block the run"
        )
    if regular and info.st_size > limit:
        raise InputError(_too_big(path, limit, info.st_size))
    try:
        with path.open("rb") as fp:
            data = fp.read(limit + 1)
    except PermissionError as exc:
        raise InputError(f"cannot read {path}: permission denied") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path} is a directory; use `stackextract batch` for it") from exc
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:  # it grew since stat(), or a pipe holds more than the cap
        raise InputError(_too_big(path, limit, None))
    return data


def _gunzip(data: bytes, path: Path, limit: int) -> bytes:
    """The content of a gzip file (every member), refused past `limit` bytes: a small file
    can unpack to gigabytes."""
    out = bytearray()
    rest = data
    try:
        while rest:
            unpacker = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
            out += unpacker.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or unpacker.unconsumed_tail:
                raise InputError(_too_big(path, limit, None, unpacked=True))
            if not unpacker.eof:
                raise InputError(f"{path} is a truncated gzip file; fetch or copy it again")
            rest = unpacker.unused_data.lstrip(b"\0")  # members may follow (or padding)
    except zlib.error as exc:
        raise InputError(
            f"{path} is not a valid gzip file ({exc}); decompress it or fix its name"
        ) from exc
    return bytes(out)


def _too_big(path: Path, limit: int, size: int | None, *, unpacked: bool = False) -> str:
    what = f"{size:,} bytes, over" if size is not None else "over"
    verb = "unpacks to" if unpacked else "is"
    return (
        f"{path} {verb} {what} the {limit:,}-byte limit; set {MAX_BYTES_ENV} to a bigger "
        "number of bytes to read it"
    )


def read_file(path: Path, *, max_bytes: int | None = None, streams: bool = False) -> Document:
    """A local .html/.md/.mdx/.txt file (or one of those gzipped: .html.gz) as a Document.

    Refuses (InputError, stage "input") what cannot be a writeup: a missing file or broken
    link, a directory, a FIFO/socket/device (unless `streams`), a file over `max_bytes`
    (default: `default_max_bytes()`), binary or undecodable bytes; and (CleanError, stage
    "clean") a file with no text.
    """
    limit = default_max_bytes() if max_bytes is None else max_bytes
    data = _read_bytes(path, limit, streams=streams)
    name = path.name.lower()
    if name.endswith(GZIP_SUFFIX):  # saved pages are often kept compressed
        data = _gunzip(data, path, limit)
        name = name[: -len(GZIP_SUFFIX)]
    if not data.strip():
        raise CleanError(f"{path} is empty; there is nothing to extract")
    reason = _binary_reason(data)
    if reason:
        raise InputError(f"{path} looks binary, not text, HTML or markdown ({reason})")
    resolved = str(path.resolve())
    if name.endswith(_HTML_SUFFIXES):
        return document_from_html(data, path=resolved)
    text = _decode(data)
    bad = text.count("\ufffd")
    if bad > max(8, len(text) // 100):
        raise InputError(
            f"{path} is not text in UTF-8 or Windows-1252 ({bad:,} undecodable bytes); "
            "convert it to UTF-8"
        )
    if is_markdown_path(name):
        doc = markdown_to_document(text, path=resolved)
    else:
        doc = document_from_string(text, path=resolved)
    if not doc.text.strip():
        raise CleanError(f"{path} holds no text once its markup is removed; nothing to extract")
    return doc


def load(
    source: str | Path | Document,
    *,
    allow_private: bool = False,
    max_bytes: int | None = None,
    **fetch_kwargs: Any,
) -> Document:
    """Read a URL, a file path, '-' (stdin) or a raw HTML/markdown/text string into a Document.

    URLs are fetched with the SSRF guard on; `allow_private=True` lets them reach private and
    loopback addresses (needed for local test servers).
    """
    if isinstance(source, Document):
        return source
    max_bytes = default_max_bytes() if max_bytes is None else max_bytes
    if isinstance(source, Path):
        return read_file(source, max_bytes=max_bytes, streams=True)
    if not isinstance(source, str):
        raise InputError(f"cannot load a {type(source).__name__}; pass a URL, path or string")
    if source == "-":
        data = sys.stdin.buffer.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise InputError(
                f"stdin holds more than {max_bytes:,} bytes; set {MAX_BYTES_ENV} to read more"
            )
        return document_from_string(_decode(data))
    if is_url(source):
        from stackextract.sources.fetch import fetch

        result = fetch(source.strip(), allow_private=allow_private, max_bytes=max_bytes,
                       **fetch_kwargs)
        return document_from_fetch(result)
    if "\n" not in source and len(source) < 4096:
        path = Path(source).expanduser()
        if _is_file(path):
            return read_file(path, max_bytes=max_bytes, streams=True)
        stripped = source.strip()
        if not stripped:
            raise InputError("empty source: pass a URL, a file path, '-' or text")
        words = stripped.split()
        # a path that is not there: one or two words with a separator or an extension
        # ('notes.md', 'docs/stack.md'); a sentence that ends in 'Node.js' or names 'CI/CD'
        # is text
        pathish = "/" in stripped or "\\" in stripped or re.search(r"\.\w{1,8}$", stripped)
        if pathish and len(words) <= 2:
            raise InputError(f"no such file: {source} (for a web page, give the full https:// URL)")
        if len(words) < 2:
            raise InputError(f"no such file or URL: {source}")
    return document_from_string(source)


def _is_file(path: Path) -> bool:
    """An existing file or folder; False for a string no file system could hold (a name
    over the length limit, a NUL byte): that is text, not a path."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


async def aload(
    source: str | Path | Document,
    *,
    allow_private: bool = False,
    max_bytes: int | None = None,
    client: Any = None,
    **fetch_kwargs: Any,
) -> Document:
    """Async `load`: URLs are fetched with httpx's async client; cleaning runs in a thread."""
    import asyncio

    if isinstance(source, str) and is_url(source):
        from stackextract.sources.fetch import afetch

        max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        result = await afetch(source.strip(), allow_private=allow_private, max_bytes=max_bytes,
                              client=client, **fetch_kwargs)
        return await asyncio.to_thread(document_from_fetch, result)
    return await asyncio.to_thread(load, source, allow_private=allow_private, max_bytes=max_bytes)
