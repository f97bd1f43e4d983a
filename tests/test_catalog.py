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


def test_bundled_catalog_from_its_index_is_the_catalog_built_from_the_records() -> None:
    """The prebuilt index (data/catalog_index.txt) loads the same catalog as building it
    from catalog.json: same keys, prefixes, owners, squashed spellings, entries, mentions."""
    from importlib import resources

    from stackextract.catalog.vocabulary import CATALOG_FILE, squash

    bundled = Catalog.bundled()
    assert bundled._index is not None  # it did load the index, not the records
    source = resources.files("stackextract").joinpath(CATALOG_FILE).read_text("utf-8")
    built = Catalog.from_records(json.loads(source))
    assert len(bundled) == len(built) and bundled.names() == built.names()
    assert bundled._keys == built._keys and bundled._prefixes == built._prefixes
    assert bundled._first_tokens == built._first_tokens
    assert bundled._max_tokens == built._max_tokens
    assert bundled.name_heads() == built.name_heads()
    for key, row in built._keys.items():
        assert bundled._candidates(key) == built._owners[row], key
    for entry in built.entries[::97]:
        for spelling in entry.spellings:
            key = squash(spelling)
            assert bundled._by_squash(key) == built._by_squash(key)
    text = ("We moved from Amazon Web Services EC2 to Google Kubernetes Engine, kept our "
            "Node.js services on PostgreSQL and Ruby on Rails, and use GitHub Actions.")
    assert bundled.find_mentions(text) == built.find_mentions(text)
    assert bundled.entries == built.entries


def test_a_stale_index_is_not_used() -> None:
    """An index built from another catalog.json (its hash differs) is ignored: the catalog
    is built from the records instead of from keys that no longer match them."""
    import hashlib

    from stackextract.catalog.vocabulary import _Index, render_index

    text = json.dumps([{"name": "Kafka", "category": "queue"}], indent=None)
    one_a_line = "[\n" + text[1:-1] + "\n]\n"
    index = render_index(one_a_line)
    raw = one_a_line.encode()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    assert _Index.read(index, raw, digest) is not None
    other = raw.replace(b"Kafka", b"Pulsar")
    assert _Index.read(index, other, hashlib.sha256(other).hexdigest()[:16]) is None
    assert _Index.read(index[:-30], raw, digest) is None  # truncated


def test_longer_names_are_tried_only_where_a_key_goes_on() -> None:
    """Prefixes steer the longest match: 'SQL Server' inside 'Microsoft SQL Server', a
    name broken by a blank line is two words, and a name at the end of the text is found."""
    assert names("We run Microsoft SQL Server and SQL Server Agent.") == [
        "Microsoft SQL Server", "Microsoft SQL Server"]
    assert names("Microsoft SQL\n\nServer") == []
    assert names("the last one is Vue") == ["Vue.js"]
