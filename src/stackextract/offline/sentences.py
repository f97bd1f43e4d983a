"""Split a (masked) text into sentences with offsets, keeping track of blocks and list items.

Offsets index the original text; the masked view only decides where prose is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BLOCK_SPLIT = re.compile(r"\n[ \t]*\n+")
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+\u2022\u25aa\u25cf\u2013]|\d{1,3}[.)])[ \t]+")
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+")
_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$")
_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "inc", "ltd", "co", "approx",
    "cf", "fig", "no", "st", "jr", "sr", "u.s", "a.k.a", "aka", "resp", "esp",
}
_SENTENCE_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]*_]*\s+(?=[\"'\u201c\u2018(\[*_]*[A-Z0-9])"
)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    block: int  # index of the blank-line separated block it belongs to
    kind: str  # para | item | heading | fragment | row
    index: int = 0  # position in the document's sentence list

    def text(self, source: str) -> str:
        return source[self.start : self.end]


def _trim(view: str, start: int, end: int) -> tuple[int, int]:
    while start < end and view[start].isspace():
        start += 1
    while end > start and view[end - 1].isspace():
        end -= 1
    return start, end


def _split_sentences(view: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    cursor = start
    for match in _SENTENCE_END.finditer(view, start, end):
        word = re.search(r"([\w.]+)[.!?\u2026]*$", view[cursor : match.start() + 1])
        if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
            continue
        if word and re.fullmatch(r"[A-Z]", word.group(1).rstrip(".")):  # initials: "J. Smith"
            continue
        spans.append((cursor, match.end()))
        cursor = match.end()
    spans.append((cursor, end))
    return spans


def _line_kind(line: str, block_lines: int) -> str:
    if _HEADING.match(line):
        return "heading"
    if _LIST_MARKER.match(line):
        return "item"
    if _TABLE_ROW.match(line):
        return "row"
    words = len(line.split())
    if block_lines == 1 and words <= 8 and not re.search(r"[.!?]\s*$", line):
        return "fragment"
    return "para"


_OPEN_END = re.compile(
    r"(?:,|\(|\(e\.g\.|\be\.g\.|\bi\.e\.|\blike|\band|\bor|\bas well as|\bsuch as|\bwith|"
    r"\bthe|\bof|\bto|\bon|\bin)\s*$",
    re.I,
)
_CONTINUATION = re.compile(r"^\s*(?:[,;)\]]|[a-z])")


def _blocks(view: str) -> list[tuple[int, int]]:
    """Blank-line separated blocks, with dangling pieces glued back together.

    Page-to-text conversion often puts each inline link on a line of its own
    ("(e.g.\n\nSendgrid\n\n,\n\nTwilio"); those pieces belong to one sentence.
    """
    raw: list[tuple[int, int]] = []
    pos = 0
    for match in [*_BLOCK_SPLIT.finditer(view), None]:
        end = match.start() if match else len(view)
        if view[pos:end].strip():
            raw.append((pos, end))
        pos = match.end() if match else len(view)
    merged: list[tuple[int, int]] = []
    for start, end in raw:
        if merged:
            prev_start, prev_end = merged[-1]
            prev = view[prev_start:prev_end]
            this = view[start:end]
            structured = any(
                _LIST_MARKER.match(x) or _HEADING.match(x) or _TABLE_ROW.match(x)
                for x in (prev.lstrip("\n").split("\n")[-1], this.lstrip("\n").split("\n")[0])
            )
            glue = not structured and (
                _OPEN_END.search(prev)
                or (_CONTINUATION.match(this) and not re.search(r"[.!?:]\s*$", prev))
            )
            if glue and (end - prev_start) < 3000:
                merged[-1] = (prev_start, end)
                continue
        merged.append((start, end))
    return merged


def split(view: str) -> list[Sentence]:
    """Sentences of the masked text `view`, each with its block number and kind."""
    sentences: list[Sentence] = []
    block_index = 0
    for pos, block_end in _blocks(view):
        block = view[pos:block_end]
        if block.strip():
            lines = block.split("\n")
            structured = sum(
                1 for ln in lines if _LIST_MARKER.match(ln) or _HEADING.match(ln)
                or _TABLE_ROW.match(ln)
            )
            units: list[tuple[int, int, str]] = []
            offset = pos
            if structured:
                # each list item / heading / row is a unit; continuation lines join the item
                current: list[int] | None = None
                current_kind = "para"
                for ln in lines:
                    ln_start, ln_end = offset, offset + len(ln)
                    offset = ln_end + 1
                    if not ln.strip():
                        continue
                    kind = _line_kind(ln, 1)
                    is_new = kind in ("item", "heading", "row") or current is None
                    if is_new:
                        if current is not None:
                            units.append((current[0], current[1], current_kind))
                        current = [ln_start, ln_end]
                        current_kind = kind if kind != "fragment" else "para"
                    else:
                        assert current is not None
                        current[1] = ln_end
                if current is not None:
                    units.append((current[0], current[1], current_kind))
            else:
                first = lines[0]
                if (
                    len(lines) > 1
                    and 0 < len(first.split()) <= 6
                    and not re.search(r"[.!?,:;]\s*$", first)
                    and re.match(r"\s*[A-Z]", lines[1])
                ):
                    # a title line right above its paragraph ("styled-jsx + SCSS\nWe started")
                    units.append((pos, pos + len(first), "fragment"))
                    units.append((pos + len(first) + 1, block_end, "para"))
                else:
                    units.append((pos, block_end, _line_kind(block.strip(), len(lines))))
            for u_start, u_end, kind in units:
                if kind in ("heading", "fragment", "row"):
                    s, e = _trim(view, u_start, u_end)
                    if e > s:
                        sentences.append(Sentence(s, e, block_index, kind))
                    continue
                for s_start, s_end in _split_sentences(view, u_start, u_end):
                    s, e = _trim(view, s_start, s_end)
                    if e > s:
                        sentences.append(Sentence(s, e, block_index, kind))
            block_index += 1
    return [
        Sentence(s.start, s.end, s.block, s.kind, i) for i, s in enumerate(sentences)
    ]
