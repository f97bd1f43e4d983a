"""Checks on the bundled tool catalog (src/stackextract/data/catalog.json).

The matcher and the grounding step trust this file: a duplicate alias would send mentions to
the wrong tool, an unflagged English word would turn prose into tools. The file is built from
public sources plus the curated lists (scripts/build_catalog.py); these tests check that it
is what the build gives, and that every entry says where it came from.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stackextract.models import Category

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "src" / "stackextract" / "data" / "catalog.json"
WORDS = Path(__file__).resolve().parent / "catalog_common_words.txt"
PUBLIC = ROOT / "scripts" / "catalog_sources" / "public"
DOCS = ROOT / "docs" / "catalog.md"
KEYS = {"name", "category", "popularity", "sources"}
FLAGS = {"case_sensitive", "ambiguous", "common_word", "code_only", "generic"}
OPTIONAL_KEYS = {"aliases", *FLAGS}  # left out when false / empty
PUBLIC_SOURCES = sorted(p.stem for p in PUBLIC.glob("*.tsv"))
CONFIRM_ONLY = {"simple-icons", "debian"}  # they confirm names, they never add one
SHARED = next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared")
               if (p / "gold").is_dir()), None)


@pytest.fixture(scope="module")
def raw() -> list[dict[str, Any]]:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries with the left-out keys filled in, as the loader reads them."""
    return [{"aliases": [], **dict.fromkeys(FLAGS, False), **e} for e in raw]


@pytest.fixture(scope="module")
def words() -> set[str]:
    return {w.strip() for w in WORDS.read_text(encoding="utf-8").splitlines() if w.strip()}


def _terms(entry: dict[str, Any]) -> list[str]:
    return [entry["name"], *entry["aliases"]]


def test_size(catalog: list[dict[str, Any]]) -> None:
    assert len(catalog) >= 15000
    assert sum(1 for e in catalog if not e["code_only"]) >= 13500  # not only as `code`


def test_rebuild_gives_the_same_file(tmp_path: Path) -> None:
    """One command rebuilds the shipped file from the committed extracts, byte for byte."""
    out = tmp_path / "catalog.json"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_catalog.py"), "--output", str(out)],
        check=True, capture_output=True, timeout=300,
    )
    assert out.read_bytes() == CATALOG.read_bytes()
    # and the matcher's prebuilt index beside it (what Catalog.bundled() loads)
    index = CATALOG.with_name("catalog_index.txt")
    assert out.with_name(index.name).read_bytes() == index.read_bytes()


def test_every_entry_names_its_sources(catalog: list[dict[str, Any]]) -> None:
    allowed = {"curated", *PUBLIC_SOURCES}
    for entry in catalog:
        assert entry["sources"], entry["name"]
        assert set(entry["sources"]) <= allowed, entry
        assert not set(entry["sources"]) <= CONFIRM_ONLY, entry
        assert 0.0 < entry["popularity"] <= 1.0, entry


def test_counts_per_source(catalog: list[dict[str, Any]]) -> None:
    """Each public source brings real weight; the curated lists are a minority."""
    counts = Counter(s for e in catalog for s in e["sources"])
    for source in PUBLIC_SOURCES:
        assert counts[source] >= (40 if source in CONFIRM_ONLY else 200), (source, counts)
    assert counts["curated"] < 0.25 * len(catalog)


def test_extracts_are_pinned_and_credited() -> None:
    """Every extract names its source, a commit or list version and a licence, and
    docs/catalog.md credits it."""
    docs = DOCS.read_text(encoding="utf-8")
    for path in PUBLIC.glob("*.tsv"):
        head = dict(
            line[2:].split(": ", 1) for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("# ") and ": " in line and "\t" not in line
        )
        assert {"source", "licence"} <= set(head), path.name
        assert "commit" in head or "version" in head, path.name
        if "commit" in head:
            assert re.fullmatch(r"[0-9a-f]{40}", head["commit"]), path.name
            assert head["commit"] in docs, path.name
        assert f"`{path.stem}`" in docs, path.name


def test_registry_words_are_not_tools(catalog: list[dict[str, Any]]) -> None:
    """A name known only from PyPI/npm is never a common word ('colors', 'debug'), and a
    word-like name no curated list vouches for matches only as code."""
    for entry in catalog:
        only_registries = set(entry["sources"]) - CONFIRM_ONLY <= {"pypi", "npm"}
        if only_registries:
            assert not entry["common_word"], entry["name"]
        if entry.get("code_only"):
            assert "curated" not in entry["sources"], entry["name"]


@pytest.mark.skipif(SHARED is None, reason="shared/gold is not beside the repository")
def test_no_entry_only_from_gold(catalog: list[dict[str, Any]]) -> None:
    """The labels never feed the catalog: the build reads no gold file, and the number of
    gold tools that only the curated lists know (written partly from the first gold files,
    before the public sources existed) may only fall. Coverage per file:
    scripts/catalog_coverage.py."""
    build = (ROOT / "scripts" / "build_catalog.py").read_text(encoding="utf-8")
    assert "gold" not in build.lower()
    index = {t.casefold(): e for e in catalog for t in _terms(e)}
    curated_only = set()
    for path in sorted((SHARED / "gold").glob("*.json")):  # type: ignore[operator]
        for tool in json.loads(path.read_text(encoding="utf-8"))["tools"]:
            entry = index.get(tool["name"].casefold())
            if entry is not None and entry["sources"] == ["curated"]:
                curated_only.add(entry["name"])
    assert len(curated_only) <= 85


def test_entry_shape(raw: list[dict[str, Any]]) -> None:
    for entry in raw:
        assert KEYS <= set(entry) <= KEYS | OPTIONAL_KEYS, entry
        assert all(entry.get(flag, True) is True for flag in FLAGS), entry  # only when set
        assert entry.get("aliases", [""]) != [], entry  # only when there are some
        assert isinstance(entry["name"], str) and entry["name"].strip() == entry["name"] != ""
        aliases = entry.get("aliases", [])
        assert isinstance(aliases, list)
        assert all(isinstance(a, str) and a.strip() == a != "" for a in aliases), entry
        assert isinstance(entry["popularity"], float | int)
        assert isinstance(entry["sources"], list)


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
