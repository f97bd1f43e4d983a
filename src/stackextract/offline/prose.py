"""A same-length view of a text in which only prose is left.

Code blocks, link targets, bare URLs, images, HTML/MDX tags and template tags are blanked
with spaces, so a tool named only in a URL or a code sample is not a mention, while every
offset still points into `Document.text`.
"""

from __future__ import annotations

import re

_BLANK_PATTERNS = [
    # fenced code blocks (``` or ~~~), up to the closing fence or the end
    re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[^\n]*$|\Z)", re.S | re.M),
    re.compile(r"<(pre|script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I),
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S),  # Liquid / Jekyll
    re.compile(r"^(?:import|export)\s[^\n]*$", re.M),  # MDX imports/exports
    re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)"),  # images, alt text included
    re.compile(r"^\s*\[[^\]\n]+\]:\s*\S+.*$", re.M),  # reference definitions
    re.compile(r"</?[A-Za-z][\w.:-]*(?:\s[^<>]*?)?/?>", re.S),  # HTML / JSX tags
]
_LINK_TARGET = re.compile(r"(?<=\])\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)")
_BARE_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>()\[\]]+|\bwww\.[^\s<>()\[\]]+")


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def prose_mask(text: str) -> str:
    """`text` with non-prose blanked (same length, newlines kept)."""
    chars = list(text)
    for pattern in _BLANK_PATTERNS:
        for match in pattern.finditer(text):
            _blank(chars, match.start(), match.end())
    for match in _LINK_TARGET.finditer(text):
        _blank(chars, match.start(), match.end())
    for match in _BARE_URL.finditer(text):
        _blank(chars, match.start(), match.end())
    return "".join(chars)


def code_spans(text: str) -> list[tuple[int, int]]:
    """Spans of inline `code`: mentions inside them are identifiers more often than tools."""
    return [(m.start(), m.end()) for m in re.finditer(r"`[^`\n]+`", text)]
