"""Markdown and MDX inputs: front matter becomes metadata, the body is kept verbatim.

The body stays as written so that quotes are verbatim spans of it; `prose_mask` (in
prose.py) blanks out what is not prose before the extractor reads it.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import yaml

from stackextract.models import Document

_FRONT_MATTER = re.compile(
    r"\A\ufeff?---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S
)
_MD_SUFFIXES = (".md", ".mdx", ".markdown", ".mkd")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter as a dict, body). A broken front matter block is left in the body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return meta, text[match.end() :]


def _first_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        parts = [_first_text(v) for v in value]
        joined = ", ".join(p for p in parts if p)
        return joined or None
    if isinstance(value, dict):
        return _first_text(value.get("name") or value.get("title"))
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    text = re.sub(r"<[^>]+>", "", str(value))  # front matter sometimes holds HTML links
    text = " ".join(text.split())
    return text or None


def _date(value: Any) -> str | None:
    text = _first_text(value)
    if not text:
        return None
    match = re.match(r"\d{4}-\d{2}-\d{2}", text)
    return match.group(0) if match else text


def _title_from_heading(body: str) -> str | None:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", body, re.M)
    return match.group(1).strip() if match else None


def markdown_to_document(text: str, **source: Any) -> Document:
    """A Document from markdown/MDX: metadata from front matter, body verbatim as text."""
    meta, body = split_front_matter(text)
    body = body.lstrip("\n")
    return Document(
        text=body,
        format="markdown",
        title=_first_text(meta.get("title")) or _title_from_heading(body),
        author=_first_text(meta.get("author") or meta.get("authors")),
        published=_date(meta.get("date") or meta.get("published")),
        site_name=_first_text(meta.get("site") or meta.get("site_name")),
        language=_first_text(meta.get("lang") or meta.get("language")),
        **source,
    )


def looks_like_markdown(text: str) -> bool:
    """Front matter, headings or links in markdown syntax."""
    head = text[:5000]
    return bool(
        _FRONT_MATTER.match(head)
        or re.search(r"^#{1,6}\s+\S", head, re.M)
        or re.search(r"\[[^\]\n]+\]\([^)\s]+\)", head)
        or re.search(r"^```", head, re.M)
    )


def is_markdown_path(name: str) -> bool:
    return name.lower().endswith(_MD_SUFFIXES)
