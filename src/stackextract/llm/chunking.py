"""Split a long document into paragraph-aligned chunks that fit a model's token budget.

Each chunk after the first starts with the tail of the previous one (up to
`overlap_tokens`), so that a sentence that refers back ("we moved off it because...")
keeps its context. Offsets index the original text, so quotes can be located later.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9*_`-])")
CHARS_PER_TOKEN = 4.0


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (~4 characters per token for English with BPE tokenizers)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@dataclass(frozen=True)
class Chunk:
    """`text == document[start:end]`; the first `overlap` characters repeat the previous chunk."""

    index: int
    start: int
    end: int
    text: str
    overlap: int = 0

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)


def _pieces(text: str) -> list[tuple[int, int]]:
    """Paragraph spans (start, end) without the blank lines between them."""
    spans = []
    pos = 0
    for match in PARAGRAPH_BREAK.finditer(text):
        if text[pos : match.start()].strip():
            spans.append((pos, match.start()))
        pos = match.end()
    if text[pos:].strip():
        spans.append((pos, len(text)))
    return spans


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut a too-long paragraph at sentence ends, then at spaces, then anywhere."""
    spans: list[tuple[int, int]] = []
    cuts = [start] + [start + m.end() for m in SENTENCE_END.finditer(text[start:end])] + [end]
    piece_start = start
    for prev, cut in itertools.pairwise(cuts):
        if cut - piece_start <= max_chars:
            continue
        if prev > piece_start:
            spans.append((piece_start, prev))
            piece_start = prev
        while cut - piece_start > max_chars:  # one sentence longer than the budget
            space = text.rfind(" ", piece_start + max_chars // 2, piece_start + max_chars)
            stop = space + 1 if space > 0 else piece_start + max_chars
            spans.append((piece_start, stop))
            piece_start = stop
    if piece_start < end:
        spans.append((piece_start, end))
    return spans


def chunk_text(text: str, *, max_tokens: int = 1200, overlap_tokens: int = 80) -> list[Chunk]:
    """Paragraph-aligned chunks of at most ~`max_tokens` (plus the overlap) each.

    A text that fits is one chunk, the whole text. Paragraphs are never split unless one
    alone exceeds the budget.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if estimate_tokens(text) <= max_tokens:
        return [Chunk(index=0, start=0, end=len(text), text=text)] if text.strip() else []
    max_chars = int(max_tokens * CHARS_PER_TOKEN)
    overlap_chars = int(max(0, overlap_tokens) * CHARS_PER_TOKEN)
    pieces: list[tuple[int, int]] = []
    for start, end in _pieces(text):
        pieces.extend(_split_long(text, start, end, max_chars))

    groups: list[list[tuple[int, int]]] = []
    for piece in pieces:
        if groups and piece[1] - groups[-1][0][0] <= max_chars:
            groups[-1].append(piece)
        else:
            groups.append([piece])

    chunks: list[Chunk] = []
    for i, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        overlap_start = start
        if i and overlap_chars:
            # The previous group's last pieces that fit the overlap budget, whole.
            for p_start, _ in reversed(groups[i - 1]):
                if start - p_start > overlap_chars:
                    break
                overlap_start = p_start
            if overlap_start == start:  # last piece too long: take its final sentences
                tail_from = max(groups[i - 1][-1][0], start - overlap_chars)
                cut = text.find(" ", tail_from, start)
                overlap_start = cut + 1 if 0 <= cut < start else start
        chunks.append(
            Chunk(
                index=i,
                start=overlap_start,
                end=end,
                text=text[overlap_start:end],
                overlap=start - overlap_start,
            )
        )
    return chunks
