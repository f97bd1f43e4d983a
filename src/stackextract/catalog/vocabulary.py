"""The tool catalog: canonical names, aliases, categories, and a fast mention finder.

The bundled catalog is `data/catalog.json`; a user file in the same format merges over it
(`Catalog.default(extra=PATH)` or the STACKEXTRACT_CATALOG environment variable).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from stackextract.errors import ConfigError
from stackextract.models import Category

# A token: word characters with inner . + # - _ (Node.js, C#, C++, styled-jsx, pg_dump, o4-mini),
# optionally a leading dot (.NET) when it does not follow a word or a dot.
TOKEN_RE = re.compile(r"(?:(?<![\w.])\.)?[^\W_](?:[\w.+#-]*[\w+#])?")
MAX_NGRAM = 6


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    category: Category
    aliases: tuple[str, ...] = ()
    case_sensitive: bool = False
    ambiguous: bool = False
    generic: bool = False  # a format or protocol (JSON, HTML): a tool only when chosen explicitly
    known: bool = True  # False for names proposed by the extractor, not from the catalog
    # What the catalog build knows about the name (docs/catalog.md): the lists it came from,
    # a 0-1 popularity signal, whether wordfreq counts it a common English word, and whether
    # it is so word-like that only a code-formatted mention (`name`) counts.
    sources: tuple[str, ...] = ()
    popularity: float = 0.0
    common_word: bool = False
    code_only: bool = False

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Mention:
    """One occurrence of a catalog tool in a text."""

    start: int
    end: int
    text: str
    entry: CatalogEntry


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Ordinary English words: a tool spelled like one needs more than a lowercase match."""
    text = resources.files("stackextract").joinpath("data/common_words.txt").read_text("utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip())


def is_common_word(spelling: str) -> bool:
    words = spelling.lower().split()
    return bool(words) and all(w.isalpha() and w in common_words() for w in words)


def needs_code(mention: Mention) -> bool:
    """A mention of a `code_only` entry counts only as code (`retry`), unless it is written
    with a casing of its own that prose words do not have ('JMESPath' for `jmespath`)."""
    if not mention.entry.code_only:
        return False
    if mention.entry.common_word:
        return True  # 'YouTube' is still the word 'youtube' to the matcher
    surface = mention.text
    return surface in (surface.lower(), surface.upper(), surface.capitalize())


def tokenize(text: str) -> list[re.Match[str]]:
    return list(TOKEN_RE.finditer(text))


def _key(spelling: str) -> str:
    return " ".join(TOKEN_RE.findall(spelling)).casefold()


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def squash(name: str) -> str:
    """Lower-cased letters and digits only: the form names are compared in."""
    return _NOT_ALNUM.sub("", name.casefold())


@dataclass
class Catalog:
    """Canonical names and aliases; `find_mentions` scans a text for them."""

    entries: list[CatalogEntry]
    _by_key: dict[str, list[tuple[CatalogEntry, str]]] = field(init=False, repr=False)
    _squashed: dict[str, CatalogEntry] | None = field(init=False, repr=False, default=None)
    _max_tokens: int = field(init=False, repr=False)
    _first_tokens: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # ~19,000 entries and ~23,000 spellings: this loop is most of the catalog's load time,
        # so it keeps to local names and one regex call per spelling.
        by_key: dict[str, list[tuple[CatalogEntry, str]]] = {}
        findall = TOKEN_RE.findall
        longest = 0
        for entry in self.entries:
            for spelling in (entry.name, *entry.aliases):
                tokens = [spelling] if spelling.isalnum() else findall(spelling)
                if not tokens:
                    continue
                key = " ".join(tokens).casefold()
                found = by_key.get(key)
                if found is None:
                    by_key[key] = [(entry, spelling)]
                else:
                    found.append((entry, spelling))
                longest = max(longest, len(tokens))
        self._by_key = by_key
        self._max_tokens = max(1, min(MAX_NGRAM, longest))
        self._first_tokens = frozenset(key.split(" ", 1)[0] for key in by_key)

    @property
    def _by_squash(self) -> dict[str, CatalogEntry]:
        """Squashed spelling -> entry, built on the first lookup that needs it (the matcher
        never does, so loading stays cheap)."""
        if self._squashed is None:
            squashed: dict[str, CatalogEntry] = {}
            for entry in self.entries:
                for spelling in entry.spellings:
                    squashed.setdefault(squash(spelling), entry)
            self._squashed = squashed
        return self._squashed

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> Catalog:
        return cls([_entry(r) for r in records])

    @classmethod
    def from_file(cls, path: str | Path) -> Catalog:
        return cls.from_records(_read_records(Path(path)))

    @classmethod
    def bundled(cls) -> Catalog:
        return _bundled()

    @classmethod
    def default(cls, extra: str | Path | None = None) -> Catalog:
        """The bundled catalog, merged with `extra` or $STACKEXTRACT_CATALOG when given."""
        extra = extra or os.environ.get("STACKEXTRACT_CATALOG") or None
        if extra is None:
            return _bundled()
        return _merged(str(Path(extra).resolve()))

    def merge(self, records: Iterable[dict[str, Any]]) -> Catalog:
        """A new catalog with `records` over this one; same name replaces, `remove` deletes."""
        by_name = {e.name.casefold(): e for e in self.entries}
        for record in records:
            name = str(record.get("name", "")).strip()
            if not name:
                raise ConfigError("catalog entry without a name; every entry needs 'name'")
            if record.get("remove"):
                by_name.pop(name.casefold(), None)
                continue
            base = by_name.get(name.casefold())
            if base is not None:
                merged = {
                    "name": name,
                    "category": record.get("category", base.category.value),
                    "aliases": list(dict.fromkeys([*base.aliases, *record.get("aliases", [])])),
                    "case_sensitive": record.get("case_sensitive", base.case_sensitive),
                    "ambiguous": record.get("ambiguous", base.ambiguous),
                    "generic": record.get("generic", base.generic),
                    "common_word": record.get("common_word", base.common_word),
                    "code_only": record.get("code_only", base.code_only),
                    "popularity": record.get("popularity", base.popularity),
                    "sources": record.get("sources", list(base.sources)),
                }
                by_name[name.casefold()] = _entry(merged)
            else:
                by_name[name.casefold()] = _entry(record)
        return Catalog(list(by_name.values()))

    # -- lookups ------------------------------------------------------------------------
    def lookup(self, name: str) -> CatalogEntry | None:
        """The entry whose name or alias is `name` (case-insensitive, punctuation-tolerant)."""
        if not name:
            return None
        found = self._by_key.get(_key(name))
        if found:
            return found[0][0]
        key = squash(name)
        return self._by_squash.get(key) if key else None

    def canonical(self, name: str) -> str:
        entry = self.lookup(name)
        return entry.name if entry else clean_name(name)

    def category(self, name: str) -> Category:
        entry = self.lookup(name)
        return entry.category if entry else Category.other

    def find_mentions(self, text: str) -> list[Mention]:
        """Every non-overlapping catalog mention in `text`, longest match first at each place.

        Case rules: entries flagged case_sensitive or ambiguous match only as spelled in the
        catalog; the rest match in any case.
        """
        tokens = tokenize(text)
        n = len(tokens)
        folded = [token.group(0).casefold() for token in tokens]
        # joined[k]: tokens k and k+1 may belong to one name (only spaces, no blank line between)
        joined = [_joins(text[a.end() : b.start()]) for a, b in itertools.pairwise(tokens)]
        mentions: list[Mention] = []
        i = 0
        while i < n:
            size = self._longest_at(tokens, folded, joined, i, text, mentions)
            if size == 0 and "-" in folded[i]:
                surface, entry = self._match_hyphen_prefix(tokens[i].group(0))
                if entry is not None:
                    start = tokens[i].start()
                    mentions.append(Mention(start, start + len(surface), surface, entry))
            i += max(size, 1)
        return mentions

    def _longest_at(
        self,
        tokens: list[re.Match[str]],
        folded: list[str],
        joined: list[bool],
        i: int,
        text: str,
        mentions: list[Mention],
    ) -> int:
        """Append the longest mention starting at token i; return its size in tokens (or 0)."""
        if folded[i] not in self._first_tokens:  # most words start no name: one set lookup
            return 0
        reach = 1
        limit = min(self._max_tokens, len(tokens) - i)
        while reach < limit and joined[i + reach - 1]:
            reach += 1
        for size in range(reach, 0, -1):
            candidates = self._by_key.get(" ".join(folded[i : i + size]))
            if not candidates:
                continue
            start, end = tokens[i].start(), tokens[i + size - 1].end()
            entry = _pick(candidates, text[start:end])
            if entry is not None:
                mentions.append(Mention(start, end, text[start:end], entry))
                return size
        return 0

    def _match(self, surface: str) -> CatalogEntry | None:
        candidates = self._by_key.get(_key(surface))
        return _pick(candidates, surface) if candidates else None

    def _match_hyphen_prefix(self, token: str) -> tuple[str, CatalogEntry | None]:
        """'Vue-based', 'Kafka-powered': the part before a hyphenated lowercase suffix."""
        head, sep, tail = token.partition("-")
        if sep and tail.isalpha() and tail.islower() and len(tail) >= 3:
            entry = self._match(head)
            if entry is not None:
                return head, entry
        return token, None


def _pick(candidates: list[tuple[CatalogEntry, str]], surface: str) -> CatalogEntry | None:
    """The entry a surface form names: case-sensitive and ambiguous ones only as spelled."""
    collapsed = " ".join(surface.split())
    for entry, spelling in candidates:
        if entry.case_sensitive or entry.ambiguous:
            if collapsed == spelling:
                return entry
        else:
            return entry
    return None


def _joins(gap: str) -> bool:
    return gap.isspace() and "\n\n" not in gap


def clean_name(name: str) -> str:
    """A tidy display form for a name that is not in the catalog."""
    return " ".join(name.strip().strip("`*_\"'()[]").split())


_CATEGORIES = {c.value: c for c in Category}
_ENTRY_DEFAULTS = {f.name: f.default for f in fields(CatalogEntry)}
_SOURCE_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _sources(sources: Iterable[str]) -> tuple[str, ...]:
    """One shared tuple per distinct source list (a few hundred for ~19,000 entries)."""
    key = tuple(sources)
    return _SOURCE_TUPLES.setdefault(key, key)


def _entry(record: dict[str, Any]) -> CatalogEntry:
    category = _CATEGORIES.get(record.get("category", "other"))
    if category is None:
        raise ConfigError(
            f"catalog entry {record.get('name')!r} has unknown category "
            f"{record.get('category')!r}; use one of: {', '.join(c.value for c in Category)}"
        )
    name = str(record["name"])
    values = dict(_ENTRY_DEFAULTS)
    values.update(
        name=name,
        category=category,
        aliases=tuple([a for a in record.get("aliases", ()) if a and a != name]),
        case_sensitive=bool(record.get("case_sensitive", False)),
        ambiguous=bool(record.get("ambiguous", False)),
        generic=bool(record.get("generic", False)),
        sources=_sources(record.get("sources", ())),
        popularity=float(record.get("popularity", 0.0)),
        common_word=bool(record.get("common_word", False)),
        code_only=bool(record.get("code_only", False)),
    )
    # The bundled catalog makes ~19,000 entries per process: filling the instance dict
    # directly is four times faster than the frozen dataclass __init__ (same object after).
    entry = object.__new__(CatalogEntry)
    entry.__dict__.update(values)
    return entry


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"catalog file not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"catalog file {path} is not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("tools", [])
    if not isinstance(data, list):
        raise ConfigError(f"catalog file {path} must hold a JSON list of tool objects")
    return data


@lru_cache(maxsize=1)
def _bundled() -> Catalog:
    text = resources.files("stackextract").joinpath("data/catalog.json").read_text("utf-8")
    return Catalog.from_records(json.loads(text))


@lru_cache(maxsize=8)
def _merged(path: str) -> Catalog:
    return _bundled().merge(_read_records(Path(path)))
