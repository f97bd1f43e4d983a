"""Turn any source (URL, file, stdin, raw HTML/markdown/text) into a Document."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CleanError, InputError
from .markdown import is_markdown_path, looks_like_markdown, markdown_to_document
from .models import Document

if TYPE_CHECKING:
    from .fetch import FetchResult

DEFAULT_MAX_BYTES = 10_000_000
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
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
    from .clean import clean_html

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


def read_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """A local .html/.md/.mdx/.txt file as a Document."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"{path} is a directory; use `stackextract batch` for directories")
        if size > max_bytes:
            raise InputError(
                f"{path} is {size:,} bytes, over the {max_bytes:,}-byte limit; "
                "raise max_bytes (CLI: --max-bytes) to read it"
            )
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"no such file: {path}") from exc
    except PermissionError as exc:
        raise InputError(f"cannot read {path}: permission denied") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path} is a directory; use `stackextract batch` for it") from exc
    if b"\x00" in data[:4096]:
        raise InputError(f"{path} looks binary, not text, HTML or markdown")
    resolved = str(path.resolve())
    name = path.name.lower()
    if name.endswith(_HTML_SUFFIXES):
        return document_from_html(data, path=resolved)
    text = _decode(data)
    if is_markdown_path(name):
        return markdown_to_document(text, path=resolved)
    return document_from_string(text, path=resolved)


def load(
    source: str | Path | Document,
    *,
    allow_private: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **fetch_kwargs: Any,
) -> Document:
    """Read a URL, a file path, '-' (stdin) or a raw HTML/markdown/text string into a Document.

    URLs are fetched with the SSRF guard on; `allow_private=True` lets them reach private and
    loopback addresses (needed for local test servers).
    """
    if isinstance(source, Document):
        return source
    if isinstance(source, Path):
        return read_file(source, max_bytes=max_bytes)
    if not isinstance(source, str):
        raise InputError(f"cannot load a {type(source).__name__}; pass a URL, path or string")
    if source == "-":
        data = sys.stdin.buffer.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise InputError(f"stdin holds more than {max_bytes:,} bytes; raise --max-bytes")
        return document_from_string(_decode(data))
    if is_url(source):
        from .fetch import fetch

        result = fetch(source.strip(), allow_private=allow_private, max_bytes=max_bytes,
                       **fetch_kwargs)
        return document_from_fetch(result)
    if "\n" not in source and len(source) < 4096:
        path = Path(source).expanduser()
        if path.exists():
            return read_file(path, max_bytes=max_bytes)
        if not source.strip():
            raise InputError("empty source: pass a URL, a file path, '-' or text")
        if "/" in source or "\\" in source or re.search(r"\.\w{1,8}$", source.strip()):
            raise InputError(f"no such file: {source} (for a web page, give the full https:// URL)")
        if len(source.split()) < 2:
            raise InputError(f"no such file or URL: {source}")
    return document_from_string(source)


async def aload(
    source: str | Path | Document,
    *,
    allow_private: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    client: Any = None,
    **fetch_kwargs: Any,
) -> Document:
    """Async `load`: URLs are fetched with httpx's async client; cleaning runs in a thread."""
    import asyncio

    if isinstance(source, str) and is_url(source):
        from .fetch import afetch

        result = await afetch(source.strip(), allow_private=allow_private, max_bytes=max_bytes,
                              client=client, **fetch_kwargs)
        return await asyncio.to_thread(document_from_fetch, result)
    return await asyncio.to_thread(load, source, allow_private=allow_private, max_bytes=max_bytes)
