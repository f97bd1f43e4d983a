"""Chunking: paragraph-aligned, within budget, offsets exact, a little overlap."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackextract.llm.chunking import CHARS_PER_TOKEN, chunk_text, estimate_tokens

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def paragraphs(n: int, words: int = 40) -> str:
    return "\n\n".join(
        " ".join(f"p{i}w{j}" for j in range(words)) + "." for i in range(n)
    )


def test_short_text_is_one_chunk_equal_to_the_text() -> None:
    text = "We use Postgres.\n\nAnd Redis."
    chunks = chunk_text(text, max_tokens=1000)
    assert len(chunks) == 1
    assert chunks[0].text == text and chunks[0].start == 0 and chunks[0].end == len(text)


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("   \n\n  ", max_tokens=10) == []


def test_chunks_are_paragraph_aligned_and_within_budget() -> None:
    text = paragraphs(30)
    chunks = chunk_text(text, max_tokens=200, overlap_tokens=0)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text.startswith("p") and chunk.text.endswith(".")
        assert chunk.end == len(text) or text[chunk.end : chunk.end + 2] == "\n\n"
        assert estimate_tokens(chunk.text) <= 200
    # every paragraph is in some chunk
    for i in range(30):
        assert any(f"p{i}w0 " in c.text for c in chunks)


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    text = paragraphs(20, words=10)
    chunks = chunk_text(text, max_tokens=100, overlap_tokens=30)
    assert len(chunks) > 2
    for prev, chunk in itertools.pairwise(chunks):
        assert chunk.overlap > 0
        assert chunk.start < prev.end
        repeated = chunk.text[: chunk.overlap].strip()
        assert repeated and repeated in prev.text
        assert chunk.overlap <= 30 * CHARS_PER_TOKEN


def test_a_paragraph_longer_than_the_budget_is_split_at_sentences() -> None:
    sentence = "We moved the queue from RabbitMQ to Kafka because of throughput. "
    text = sentence * 60
    chunks = chunk_text(text, max_tokens=100, overlap_tokens=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert estimate_tokens(chunk.text) <= 100
        assert chunk.text.rstrip().endswith(".")


def test_one_endless_sentence_is_split_at_spaces() -> None:
    text = " ".join(["word"] * 2000)
    chunks = chunk_text(text, max_tokens=50, overlap_tokens=0)
    assert all(estimate_tokens(c.text) <= 50 for c in chunks)
    assert "".join(c.text for c in chunks) == text


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not available")
def test_corpus_document_is_covered() -> None:
    text = (CORPUS / "02_stackoverflow-architecture-2016.md").read_text()
    chunks = chunk_text(text, max_tokens=1200)
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    missing = [i for i in range(len(text)) if i not in covered and not text[i].isspace()]
    assert not missing
    assert all(c.tokens <= 1200 + 80 for c in chunks)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="abc .\n", min_size=0, max_size=300), max_size=12),
    st.integers(min_value=5, max_value=200),
    st.integers(min_value=0, max_value=50),
)
def test_chunks_cover_all_text_and_index_it(parts: list[str], budget: int, overlap: int) -> None:
    text = "\n\n".join(parts)
    chunks = chunk_text(text, max_tokens=budget, overlap_tokens=overlap)
    covered = set()
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text == text[c.start : c.end]
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
