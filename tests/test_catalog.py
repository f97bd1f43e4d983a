from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackextract.catalog.vocabulary import Catalog
from stackextract.errors import ConfigError
from stackextract.models import Category

SMALL = Catalog.from_records([
    {"name": "Node.js", "aliases": ["Node", "NodeJS"], "category": "backend"},
    {"name": "Express.js", "aliases": ["Express"], "category": "backend",
     "case_sensitive": True, "ambiguous": True},
    {"name": ".NET Framework", "aliases": [".NET", ".Net"], "category": "backend"},
    {"name": "C#", "category": "language", "case_sensitive": True},
    {"name": "Vue.js", "aliases": ["Vue"], "category": "frontend"},
    {"name": "Microsoft SQL Server", "aliases": ["SQL Server"], "category": "database"},
    {"name": "Go", "aliases": ["Golang"], "category": "language", "case_sensitive": True,
     "ambiguous": True},
])


def names(text: str, catalog: Catalog = SMALL) -> list[str]:
    return [m.entry.name for m in catalog.find_mentions(text)]


def test_punctuated_names_and_longest_match() -> None:
    text = "Node.js/Express.js on SQL Server with .Net 4.6 and C#."
    assert names(text) == ["Node.js", "Express.js", "Microsoft SQL Server", ".NET Framework", "C#"]


def test_case_rules_for_common_words() -> None:
    assert names("we go to the express lane") == []
    assert names("the service is written in Go and Express") == ["Go", "Express.js"]


def test_word_boundaries() -> None:
    assert names("Nodes, Vuex and Vue-based widgets") == ["Vue.js"]


def test_lookup_is_case_and_punctuation_tolerant() -> None:
    assert SMALL.lookup("nodejs").name == "Node.js"  # type: ignore[union-attr]
    assert SMALL.canonical("vue") == "Vue.js"
    assert SMALL.canonical("  `Unknown Tool` ") == "Unknown Tool"
    assert SMALL.category("SQL Server") is Category.database


def test_bundled_catalog_is_large_and_valid() -> None:
    catalog = Catalog.bundled()
    assert len(catalog) >= 1500
    assert catalog.lookup("Postgres").name == "PostgreSQL"  # type: ignore[union-attr]


def test_user_catalog_merges_over_the_bundled_one(tmp_path: Path) -> None:
    extra = tmp_path / "mine.json"
    extra.write_text(json.dumps([
        {"name": "Frobnicator", "aliases": ["Frob"], "category": "queue"},
        {"name": "PostgreSQL", "aliases": ["Pogo"]},
    ]))
    catalog = Catalog.default(extra=extra)
    assert catalog.lookup("frob").category is Category.queue  # type: ignore[union-attr]
    assert catalog.lookup("Pogo").name == "PostgreSQL"  # type: ignore[union-attr]
    assert catalog.lookup("Postgres").name == "PostgreSQL"  # type: ignore[union-attr]
    assert len(catalog) == len(Catalog.bundled()) + 1


def test_bad_user_catalog_says_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "X", "category": "spaceship"}]')
    with pytest.raises(ConfigError, match="unknown category 'spaceship'"):
        Catalog.default(extra=bad)
    with pytest.raises(ConfigError, match="not found"):
        Catalog.default(extra=tmp_path / "missing.json")
