"""Checks on the bundled tool catalog (src/stackextract/data/catalog.json).

The matcher and the grounding step trust this file: a duplicate alias would send mentions to
the wrong tool, an unflagged English word would turn prose into tools.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stackextract.models import Category

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "src" / "stackextract" / "data" / "catalog.json"
WORDS = Path(__file__).resolve().parent / "catalog_common_words.txt"
KEYS = {"name", "aliases", "category", "case_sensitive", "ambiguous"}
OPTIONAL_KEYS = {"generic"}


@pytest.fixture(scope="module")
def catalog() -> list[dict[str, Any]]:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def words() -> set[str]:
    return {w.strip() for w in WORDS.read_text(encoding="utf-8").splitlines() if w.strip()}


def _terms(entry: dict[str, Any]) -> list[str]:
    return [entry["name"], *entry["aliases"]]


def test_size(catalog: list[dict[str, Any]]) -> None:
    assert len(catalog) >= 1500


def test_entry_shape(catalog: list[dict[str, Any]]) -> None:
    for entry in catalog:
        assert KEYS <= set(entry) <= KEYS | OPTIONAL_KEYS, entry
        assert entry.get("generic", True) is True, entry  # written only when set
        assert isinstance(entry["name"], str) and entry["name"].strip() == entry["name"] != ""
        assert isinstance(entry["aliases"], list)
        assert all(isinstance(a, str) and a.strip() == a != "" for a in entry["aliases"]), entry
        assert isinstance(entry["case_sensitive"], bool)
        assert isinstance(entry["ambiguous"], bool)


def test_categories_in_enum(catalog: list[dict[str, Any]]) -> None:
    allowed = {c.value for c in Category}
    bad = [(e["name"], e["category"]) for e in catalog if e["category"] not in allowed]
    assert not bad


def test_other_is_used_sparingly(catalog: list[dict[str, Any]]) -> None:
    counts = Counter(e["category"] for e in catalog)
    assert counts["other"] < 0.1 * len(catalog)


def test_sorted_case_insensitively(catalog: list[dict[str, Any]]) -> None:
    names = [e["name"] for e in catalog]
    assert names == sorted(names, key=lambda n: (n.casefold(), n))


def test_unique_names(catalog: list[dict[str, Any]]) -> None:
    dupes = [n for n, c in Counter(e["name"].casefold() for e in catalog).items() if c > 1]
    assert not dupes


def test_no_spelling_claimed_by_two_entries(catalog: list[dict[str, Any]]) -> None:
    owners: dict[str, set[str]] = {}
    for entry in catalog:
        for term in _terms(entry):
            owners.setdefault(term.casefold(), set()).add(entry["name"])
    shared = {t: sorted(o) for t, o in owners.items() if len(o) > 1}
    assert not shared


def test_no_alias_repeats_the_name(catalog: list[dict[str, Any]]) -> None:
    for entry in catalog:
        if entry["case_sensitive"]:
            assert entry["name"] not in entry["aliases"], entry["name"]
            assert len(set(entry["aliases"])) == len(entry["aliases"]), entry["name"]
        else:
            folded = [t.casefold() for t in _terms(entry)]
            assert len(set(folded)) == len(folded), entry["name"]


def test_english_words_are_flagged(catalog: list[dict[str, Any]], words: set[str]) -> None:
    """A spelling that is a common English word needs 'ambiguous', or 'case_sensitive' with a
    capitalised form (so that the lower-case word in prose does not match)."""
    bad = []
    for entry in catalog:
        if entry["ambiguous"]:
            continue
        for term in _terms(entry):
            if term.lower() not in words:
                continue
            if entry["case_sensitive"] and term != term.lower():
                continue
            bad.append((entry["name"], term))
    assert not bad


def test_short_spellings_are_case_sensitive(catalog: list[dict[str, Any]]) -> None:
    """One- and two-letter spellings ('R', 'C', 'Go') only match with exact case."""
    bad = [
        (e["name"], t)
        for e in catalog
        for t in _terms(e)
        if t.isalnum() and len(t) <= 2 and not e["case_sensitive"]
    ]
    assert not bad


@pytest.mark.parametrize(
    ("name", "category", "case_sensitive", "ambiguous"),
    [
        ("Go", "language", True, True),
        ("Mode", "bi", True, True),
        ("Segment", "data_pipeline", True, True),
        ("Render", "cloud", True, True),
        ("PostgreSQL", "database", True, False),
        ("dbt", "data_pipeline", False, False),
        ("nginx", "backend", False, False),
    ],
)
def test_known_entries(
    catalog: list[dict[str, Any]], name: str, category: str, case_sensitive: bool, ambiguous: bool
) -> None:
    entry = next(e for e in catalog if e["name"] == name)
    assert (entry["category"], entry["case_sensitive"], entry["ambiguous"]) == (
        category,
        case_sensitive,
        ambiguous,
    )


@pytest.mark.parametrize(
    ("name", "alias"),
    [
        ("Amazon ECS", "ECS"),
        ("Amazon ECS", "Elastic Container Service"),
        ("Amazon ECS", "AWS ECS"),
        ("AWS Lambda", "Lambda"),
        ("Amazon S3", "S3"),
        ("Google BigQuery", "BigQuery"),
        ("Vue.js", "Vue"),
        ("Node.js", "Node"),
        ("Apache Airflow", "Airflow"),
        ("Microsoft SQL Server", "MSSQL"),
    ],
)
def test_short_forms(catalog: list[dict[str, Any]], name: str, alias: str) -> None:
    entry = next(e for e in catalog if e["name"] == name)
    assert alias in entry["aliases"]
