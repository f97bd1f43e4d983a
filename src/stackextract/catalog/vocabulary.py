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
from dataclasses import dataclass, field
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


def tokenize(text: str) -> list[re.Match[str]]:
    return list(TOKEN_RE.finditer(text))


def _key(spelling: str) -> str:
    return " ".join(m.group(0) for m in TOKEN_RE.finditer(spelling)).casefold()


def squash(name: str) -> str:
    """Lower-cased letters and digits only: the form names are compared in."""
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


@dataclass
class Catalog:
    """Canonical names and aliases; `find_mentions` scans a text for them."""

    entries: list[CatalogEntry]
    _by_key: dict[str, list[tuple[CatalogEntry, str]]] = field(init=False, repr=False)
    _by_squash: dict[str, CatalogEntry] = field(init=False, repr=False)
    _max_tokens: int = field(init=False, repr=False)
    _first_tokens: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {}
        self._by_squash = {}
        self._max_tokens = 1
        for entry in self.entries:
            for spelling in entry.spellings:
                key = _key(spelling)
                if not key:
                    continue
                self._by_key.setdefault(key, []).append((entry, spelling))
                self._max_tokens = max(self._max_tokens, min(MAX_NGRAM, key.count(" ") + 1))
                self._by_squash.setdefault(squash(spelling), entry)
        self._first_tokens = frozenset(key.split(" ", 1)[0] for key in self._by_key)

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


def _entry(record: dict[str, Any]) -> CatalogEntry:
    try:
        category = Category(record.get("category", "other"))
    except ValueError as exc:
        raise ConfigError(
            f"catalog entry {record.get('name')!r} has unknown category "
            f"{record.get('category')!r}; use one of: {', '.join(c.value for c in Category)}"
        ) from exc
    aliases = tuple(a for a in record.get("aliases", []) if a and a != record["name"])
    return CatalogEntry(
        name=str(record["name"]),
        category=category,
        aliases=aliases,
        case_sensitive=bool(record.get("case_sensitive", False)),
        ambiguous=bool(record.get("ambiguous", False)),
        generic=bool(record.get("generic", False)),
    )


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
