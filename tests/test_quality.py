"""Floors under the offline extractor's quality on the gold labels (see docs/quality.md).

The floors sit a little under the measured figures so that a regression fails CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CORPUS, GOLD
from stackextract.evaluation.score import evaluate, names_match
from stackextract.offline.extractor import HeuristicExtractor
from stackextract.pipeline import process_document
from stackextract.sources.load import load

GOLD_STEMS = {p.stem for p in GOLD.glob("*.json")}


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return evaluate(GOLD, CORPUS, backend="offline")


def test_no_file_errors(report) -> None:  # type: ignore[no-untyped-def]
    assert [f.error for f in report.files if f.error] == []
    assert len(report.files) == len(GOLD_STEMS) == 8


@pytest.mark.parametrize(
    ("kind", "metric", "floor"),
    [
        ("tools", "f1", 0.88),
        ("tools", "precision", 0.86),
        ("tools", "recall", 0.88),
        ("reasons", "f1", 0.42),
        ("regrets", "f1", 0.46),
        ("migrations", "f1", 0.70),
    ],
)
def test_quality_floor(report, kind: str, metric: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    value = getattr(report.total(kind), metric)
    assert value >= floor, f"{kind} {metric} fell to {value:.3f} (floor {floor})"


def test_status_accuracy_floor(report) -> None:  # type: ignore[no-untyped-def]
    assert report.status_accuracy >= 0.90


def test_scorer_name_rules() -> None:
    assert names_match("Amazon Aurora", "Aurora")
    assert names_match("Vue.js", "Vue")
    assert names_match("Apache Airflow", "airflow")
    assert names_match(["Express.js", "Express"], ["Express"])
    assert not names_match("Java", "JavaScript")


@pytest.mark.parametrize(
    "path", sorted(p for p in CORPUS.iterdir() if p.stem not in GOLD_STEMS), ids=lambda p: p.name
)
def test_every_other_writeup_gives_a_grounded_stack(path: Path) -> None:
    """The unlabelled corpus is scored elsewhere; here it must just work and stay grounded."""
    document = load(path)
    stack = process_document(document, HeuristicExtractor())
    assert stack.tools, path.name
    for tool in stack.tools:
        assert any(e.grounded for e in tool.evidence), tool
        for e in tool.evidence:
            assert e.grounded and document.text[e.start : e.end].strip(), e  # type: ignore[index]
    for item in [*stack.reasons, *stack.regrets, *stack.migrations]:
        assert item.evidence and all(e.grounded for e in item.evidence), item
