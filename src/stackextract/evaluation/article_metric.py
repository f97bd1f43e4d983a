"""Scorer of the article-extraction benchmark: 4-gram shingle overlap between two texts.

It reproduces the metric of scrapinghub/article-extraction-benchmark (described in
``../shared/benchmarks/article-extraction/README.md``) so that the project's cleaning can be
compared with published figures, and so that tests can hold a floor under fixture pages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+", re.UNICODE)

NGRAM = 4


def tokenize(text: str | None) -> list[str]:
    """Word tokens as the benchmark sees them: markup characters and spaces do not count."""
    return _TOKEN.findall(text or "")


def shingles(text: str | None, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles; a text shorter than n tokens gives one short shingle."""
    tokens = tokenize(text)
    grams = (tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(g for g in grams if g)


@dataclass(frozen=True)
class PageScore:
    """Normalised (tp, fp, fn) of one page, summing to 1 unless both texts are empty."""

    tp: float
    fp: float
    fn: float
    exact: bool

    @property
    def precision(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        return 0.0 if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        return 0.0 if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def score_page(true: str | None, pred: str | None) -> PageScore:
    """Compare a predicted article body with the reference one."""
    t, p = shingles(true), shingles(pred)
    counts = (sum((t & p).values()), sum((p - t).values()), sum((t - p).values()))
    total = sum(counts) or 1  # normalised so that long pages do not weigh more
    tp, fp, fn = (c / total for c in counts)
    return PageScore(tp, fp, fn, tokenize(true) == tokenize(pred))


@dataclass(frozen=True)
class Summary:
    """Benchmark figures over a set of pages, as published (means of per-page P and R)."""

    f1: float
    precision: float
    recall: float
    accuracy: float
    pages: int


def summarize(scores: Iterable[PageScore]) -> Summary:
    """Mean precision over pages that predicted something, mean recall over pages with a
    reference; F1 of the two means; accuracy = share of pages with identical tokens."""
    scores = list(scores)
    if not scores:
        raise ValueError("no pages to summarize")
    ps = [s.precision for s in scores if s.tp + s.fp > 0]
    rs = [s.recall for s in scores if s.tp + s.fn > 0]
    p = sum(ps) / len(ps) if ps else 0.0
    r = sum(rs) / len(rs) if rs else 0.0
    f1 = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    acc = sum(s.exact for s in scores) / len(scores)
    return Summary(f1, p, r, acc, len(scores))


def evaluate(truth: Mapping[str, str], predicted: Mapping[str, str | None]) -> Summary:
    """Score predicted bodies against reference bodies, keyed by page id (same keys)."""
    if truth.keys() != predicted.keys():
        raise ValueError("predicted page ids do not match the reference ids")
    return summarize(score_page(truth[k], predicted[k]) for k in truth)
