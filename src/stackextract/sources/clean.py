"""Cleaning step: HTML page -> main article text plus metadata (title, author, date, ...).

Built on trafilatura, tuned on the 181-page article-extraction benchmark (see
docs/cleaning.md): a precision-first extraction, a balanced re-extraction when that one comes
back empty or much shorter than the page's text, and a plain-text rendering in which code
stays recognisable (fenced blocks, backticked inline code) so that the extractor downstream
never takes a code identifier for a tool of the stack.
"""

from __future__ import annotations

import codecs
import re
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from lxml.etree import _Element
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.metadata import extract_metadata
from trafilatura.utils import detect_encoding, load_html

from stackextract.errors import CleanError

__all__ = ["CleanedPage", "clean_html", "decode_html"]


@dataclass(frozen=True)
class CleanedPage:
    """The article text of a page and what is known about it; dates are ISO YYYY-MM-DD."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    site_name: str | None = None
    language: str | None = None
    description: str | None = None


# Settings chosen from the benchmark numbers (docs/cleaning.md): a fast precision-first pass
# (no comments, tables kept), then a balanced pass, trafilatura's own cascade with its
# external-extractor comparison and baseline rescue, only when the first text looks truncated.
_PRIMARY: dict[str, Any] = {
    "fast": True,
    "favor_precision": True,
    "include_comments": False,
    "include_tables": True,
    "output_format": "txt",
}
_FALLBACK: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "output_format": "txt",
}
# Below this many characters of text the first pass is taken as truncated (plateau 400-800).
FALLBACK_MIN_CHARS = 500
# Fewer words than this is a menu, a consent banner or an error stub, not an article
# (the shortest of the benchmark's 181 reference bodies has 66).
MIN_ARTICLE_WORDS = 20
_WORD = re.compile(r"\w+")


def clean_html(html: str | bytes, *, url: str | None = None) -> CleanedPage:
    """Return the main text and metadata of an HTML page; raise CleanError if it has none."""
    where = url or "the given HTML"
    source = decode_html(html) if isinstance(html, bytes) else html
    if not source.strip():
        raise CleanError(f"no article text found in {where}; the page is empty", url=url)
    tree = load_html(source)
    if tree is None:
        raise CleanError(
            f"no article text found in {where}; it does not parse as HTML, check the input",
            url=url,
        )
    meta = extract_metadata(tree, url)
    _mark_preformatted(tree)
    body = _extract(tree, url)
    text = _render(body) if body is not None else ""
    words = len(_WORD.findall(text))
    if words < MIN_ARTICLE_WORDS:
        found = f"only {words} words of text (menus or banners)" if words else "no text"
        raise CleanError(
            f"no article text found in {where}; {found}: the page may need JavaScript or a "
            "login, save the rendered page and pass the file instead",
            url=url,
        )
    return CleanedPage(
        text=text,
        title=_clean_field(meta.title),
        author=_clean_field(meta.author) or _author_fallback(tree),
        date=_iso_date(meta.date),
        site_name=_site_name(meta.sitename, meta.hostname, tree, meta.title),
        language=_language(tree),
        description=_clean_field(meta.description),
    )


# --- extraction ---------------------------------------------------------------------------


def _run(tree: HtmlElement, url: str | None, options: dict[str, Any]) -> _Element | None:
    document = bare_extraction(tree, url=url, **options)
    return getattr(document, "body", None)


def _text_length(body: _Element | None) -> int:
    return 0 if body is None else len(" ".join(body.itertext()).strip())


def _extract(tree: HtmlElement, url: str | None) -> _Element | None:
    """Precision first; the balanced cascade only when that result looks truncated."""
    body = _run(tree, url, _PRIMARY)
    length = _text_length(body)
    if length >= FALLBACK_MIN_CHARS:
        return body
    other = _run(tree, url, _FALLBACK)
    return other if _text_length(other) > length else body


def _mark_preformatted(tree: HtmlElement) -> None:
    """Wrap the content of each <pre> lacking <code> into <code>: on tech blogs a bare <pre>
    is almost always a command or a snippet, which trafilatura would otherwise quote."""
    for pre in tree.iter("pre"):
        if pre.find(".//code") is not None:
            continue
        code = pre.makeelement("code", {})
        code.text, pre.text = pre.text, None
        for child in list(pre):
            code.append(child)
        pre.append(code)


# --- rendering ----------------------------------------------------------------------------

_INLINE_PARENTS = frozenset({"p", "head", "cell", "item", "hi", "ref", "quote", "del", "label"})
_FENCE_LINE = re.compile(r"^`{3,}$")
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")


def _code_text(element: _Element) -> str:
    parts: list[str] = []

    def walk(node: _Element) -> None:
        if node.tag == "lb":
            parts.append("\n")
        elif node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return "".join(parts)


def _fence(text: str, char: str, minimum: int) -> str:
    longest = max((len(m) for m in re.findall(re.escape(char) + "+", text)), default=0)
    return char * max(minimum, longest + 1)


def _mark_code(body: _Element) -> None:
    """Fence code blocks with ``` lines and wrap inline code in backticks, in place."""
    outermost = [
        c for c in body.iter("code") if not any(a.tag == "code" for a in c.iterancestors())
    ]
    for code in outermost:
        text = _code_text(code)
        for child in list(code):
            code.remove(child)
        parent = code.getparent()
        inline = parent is not None and parent.tag in _INLINE_PARENTS and "\n" not in text.strip()
        if inline:
            stripped = text.strip()
            tick = _fence(stripped, "`", 1) if stripped else ""
            pad = " " if stripped.startswith("`") or stripped.endswith("`") else ""
            code.text = f"{tick}{pad}{stripped}{pad}{tick}" if stripped else text
        else:
            block = text.strip("\n").rstrip()
            fence = _fence(block, "`", 3)
            code.text = f"\n{fence}\n{block}\n{fence}\n" if block.strip() else ""


def _collapse_spaces(body: _Element) -> None:
    """One paragraph per line: source line breaks inside prose become spaces (not in code)."""
    for element in body.iter():
        if element.tag == "code":
            if element.tail:
                element.tail = _SPACES.sub(" ", element.tail)
            continue
        if any(a.tag == "code" for a in element.iterancestors()):
            continue
        if element.text:
            element.text = _SPACES.sub(" ", element.text)
        if element.tail:
            element.tail = _SPACES.sub(" ", element.tail)


def _render(body: _Element) -> str:
    from trafilatura.xml import xmltotxt

    body = deepcopy(body)
    _mark_code(body)
    _collapse_spaces(body)
    lines: list[str] = []
    fence: str | None = None
    for line in xmltotxt(body, False).splitlines():
        line = line.rstrip()
        marker = _FENCE_LINE.match(line.strip())
        if fence is None:
            line = line.strip()
            if marker:
                fence = marker.group(0)
        elif marker and line.strip() == fence:
            line, fence = line.strip(), None
        if line or fence is not None:
            lines.append(line)
    return "\n".join(lines).strip()


# --- metadata -----------------------------------------------------------------------------


def _clean_field(value: str | None) -> str | None:
    if not value:
        return None
    value = _SPACES.sub(" ", value).strip()
    return value or None


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _iso_date(value: str | None) -> str | None:
    match = _ISO.match(value or "")
    return match.group(0) if match else None


_COPYRIGHT = re.compile(
    r"(?i:©|\(c\)|copyright)\s*(?i:\(c\)|©)?\s*"
    r"(?:\d{4}\s*(?:[-–—]\s*(?:\d{4}|(?i:present))?)?[\s,]*)*(?i:by\s+)?"
    r"([A-Z][\w'’-]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][\w'’-]+){1,2})"
)
_ORG_WORDS = frozenset(
    (
        *("inc", "inc.", "llc", "ltd", "ltd.", "gmbh", "corp", "corp.", "corporation"),
        *("company", "co.", "media", "group", "press", "news", "labs", "team", "all"),
        *("rights", "reserved", "foundation", "university", "the", "blog"),
    )
)


def _looks_like_person(name: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 3:
        return False
    if any(w.lower().strip(".,") in _ORG_WORDS for w in words):
        return False
    return all(w[0].isupper() and not w.isupper() for w in words)


def _author_fallback(tree: HtmlElement) -> str | None:
    """A personal blog often names its author only in the copyright notice of its footer."""
    footer_text = " ".join(
        " ".join(el.itertext())
        for el in tree.xpath(
            '//footer | //*[contains(@id, "footer") or contains(@class, "footer")]'
        )
    )
    candidates = [footer_text] if footer_text.strip() else []
    body = tree.find(".//body")
    if body is not None:
        whole = " ".join(body.itertext())
        candidates.append(whole[-3000:])
    for text in candidates:
        for match in _COPYRIGHT.finditer(_SPACES.sub(" ", text)):
            name = match.group(1).rstrip(".,")
            if _looks_like_person(name):
                return name
    return None


_HOSTNAME = re.compile(r"^(?:[\w-]+\.)+[a-z]{2,}$", re.IGNORECASE)
_TITLE_SPLIT = re.compile(r"\s+[|–—·:»-]\s+")


def _site_name(
    found: str | None, hostname: str | None, tree: HtmlElement, title: str | None
) -> str | None:
    """trafilatura's site name (og:site_name, JSON-LD publisher), else the part of <title>
    that is not the article title ("Post | Blog" -> "Blog"), else the host name."""
    found = _clean_field(found)
    if found and found != hostname and not _HOSTNAME.match(found):
        return found
    raw = tree.findtext(".//title")
    if raw and title:
        parts = [p.strip() for p in _TITLE_SPLIT.split(_SPACES.sub(" ", raw).strip())]
        others = [p for p in parts if p and p != title.strip() and p not in title]
        if len(parts) > 1 and others:
            return others[0]
    return found


_LANG = re.compile(r"^[A-Za-z]{2,3}(?=$|[-_])")


def _language(tree: HtmlElement) -> str | None:
    """Primary language subtag declared by the page (<html lang>, og:locale, content-language)."""
    values = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    values += tree.xpath('//meta[@property="og:locale"]/@content')
    values += tree.xpath(
        '//meta[translate(@http-equiv, "CONTENTLANGUAGE", "contentlanguage")'
        '="content-language"]/@content'
    )
    for value in values:
        match = _LANG.match((value or "").strip())
        if match:
            return match.group(0).lower()
    return None


# --- decoding -----------------------------------------------------------------------------

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# As browsers do (WHATWG encoding standard): these labels mean windows-1252.
_LEGACY_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso8859-1": "cp1252",
}


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    label = _LEGACY_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(data: bytes) -> str:
    """Decode page bytes: BOM, then the <meta> charset, then UTF-8, then detection.

    A page declaring a legacy charset whose bytes are valid UTF-8 (with non-ASCII
    characters) is read as UTF-8: the declaration is the stale part far more often than not.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    match = _META_CHARSET.search(data[:4096])
    declared = _codec(match.group(1).decode("ascii")) if match else None
    utf8: str | None
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    if declared and declared not in ("utf-8", "utf-16", "utf-32"):
        if utf8 is not None and not utf8.isascii():
            return utf8
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            pass
    if utf8 is not None:
        return utf8
    for guess in detect_encoding(data):
        try:
            return data.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")
