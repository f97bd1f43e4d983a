"""The tool catalog: canonical names, aliases, categories, and a fast mention finder.

The bundled catalog is `data/catalog.json`; a user file in the same format merges over it
(`Catalog.default(extra=PATH)` or the STACKEXTRACT_CATALOG environment variable).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
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
    return frozenset(text.lower().split())  # one word a line (17,000: no loop in Python)


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


class Catalog:
    """Canonical names and aliases; `find_mentions` scans a text for them.

    Built from entries, or (the bundled catalog) read from the prebuilt index that
    scripts/build_catalog.py writes next to catalog.json: then an entry is made from its
    line of catalog.json on first use, and a spelling's owners when a text first has it,
    so a one-shot command does not build 20,000 entries and their keys to use a hundred.
    """

    def __init__(self, entries: Iterable[CatalogEntry] = ()) -> None:
        self._entries: list[CatalogEntry] | None = list(entries)
        self._index: _Index | None = None
        self._squashed: dict[str, CatalogEntry] | None = None
        self._fingerprint: str | None = None
        # ~19,000 entries and ~23,000 spellings: this loop is most of the catalog's build
        # time, so it keeps to local names and one regex call per spelling.
        by_key: dict[str, list[tuple[CatalogEntry, str]]] = {}
        findall = TOKEN_RE.findall
        longest = 0
        for entry in self._entries:
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
        # key -> row; the owners of row k are _owners[k] (made on first use when indexed)
        self._keys: dict[str, int] = dict(zip(by_key, itertools.count()))
        self._owners: list[list[tuple[CatalogEntry, str]] | None] = list(by_key.values())
        self._max_tokens = max(1, min(MAX_NGRAM, longest))
        self._first_tokens = frozenset(key.split(" ", 1)[0] for key in by_key)
        self._prefixes = _prefixes(by_key)

    @classmethod
    def _from_index(cls, index: _Index) -> Catalog:
        """The catalog an index describes, with nothing built yet (see `_Index`)."""
        catalog = cls()
        catalog._entries = None
        catalog._index = index
        catalog._keys = index.rows
        catalog._owners = [None] * len(index.rows)
        catalog._max_tokens = index.max_tokens
        catalog._first_tokens = index.first_tokens
        catalog._prefixes = index.prefixes
        return catalog

    @property
    def entries(self) -> list[CatalogEntry]:
        """Every entry, in the catalog's order (made all at once here for an indexed one)."""
        if self._entries is None:
            assert self._index is not None
            self._entries = self._index.all_entries()
        return self._entries

    def names(self) -> list[str]:
        """Every entry's canonical name, in order (without making the entries)."""
        if self._entries is None and self._index is not None:
            return self._index.names
        return [e.name for e in self.entries]

    def name_heads(self) -> dict[str, int]:
        """How many names of two or more words start with each capitalised first word
        (a vendor's name starts many): from the index when the catalog has one."""
        if self._entries is None and self._index is not None:
            return self._index.heads()
        return _name_heads(self.names())

    def _candidates(self, key: str) -> list[tuple[CatalogEntry, str]] | None:
        """The (entry, spelling) pairs whose spelling has this folded token key."""
        row = self._keys.get(key)
        return None if row is None else self._owners_at(row)

    def _owners_at(self, row: int) -> list[tuple[CatalogEntry, str]]:
        found = self._owners[row]
        if found is None:
            assert self._index is not None
            found = self._owners[row] = self._index.owners(row)
        return found

    def _by_squash(self, key: str) -> CatalogEntry | None:
        """The entry with this squashed spelling; the map is built on the first lookup that
        needs it (the matcher never does, so loading stays cheap)."""
        if self._index is not None:
            return self._index.squashed(key)
        if self._squashed is None:
            squashed: dict[str, CatalogEntry] = {}
            for entry in self.entries:
                for spelling in entry.spellings:
                    squashed.setdefault(squash(spelling), entry)
            self._squashed = squashed
        return self._squashed.get(key)

    def __len__(self) -> int:
        if self._entries is None and self._index is not None:
            return self._index.size
        return len(self.entries)

    @property
    def fingerprint(self) -> str:
        """A hash of what the catalog is made of (the bundled file, plus a user's records;
        for a catalog built otherwise, every entry): part of the cache key, so that a changed
        catalog (the bundled one in a new version, or a user's file) re-extracts instead of
        reusing."""
        if self._fingerprint is None:
            import hashlib

            rows = [[e.name, e.category.value, list(e.aliases), e.case_sensitive, e.ambiguous,
                     e.generic, e.common_word, e.code_only, e.popularity, list(e.sources)]
                    for e in self.entries]
            payload = json.dumps(rows, separators=(",", ":")).encode()
            self._fingerprint = hashlib.sha256(payload).hexdigest()[:16]
        return self._fingerprint

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
        path = Path(extra).resolve()
        try:  # a file changed since it was read is read again (and gets a new fingerprint)
            info = path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = (0, 0)  # _read_records says what is wrong with it
        return _merged(str(path), stamp)

    def merge(self, records: Iterable[dict[str, Any]]) -> Catalog:
        """A new catalog with `records` over this one, by name (case-insensitive).

        A new name is added; a known name updates that entry (its aliases are added) or,
        with `"replace": true`, replaces it whole; `"remove": true` deletes the entry;
        `"remove_aliases": [...]` drops those spellings from it. An alias a record claims
        moves to that record's entry (a spelling belongs to one entry only).
        """
        by_name = {e.name.casefold(): e for e in self.entries}
        owners: dict[str, set[str]] | None = None
        for record in records:
            name = str(record.get("name", "")).strip()
            if not name:
                raise ConfigError("catalog entry without a name; every entry needs 'name'")
            if record.get("remove"):
                by_name.pop(name.casefold(), None)
                continue
            dropped = record.get("remove_aliases", [])
            if not isinstance(dropped, list) or not all(isinstance(a, str) for a in dropped):
                raise ConfigError(
                    f"catalog entry {name!r}: 'remove_aliases' must be a list of strings"
                )
            drop = {_key(a) for a in dropped}
            base = None if record.get("replace") else by_name.get(name.casefold())
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
            else:
                merged = {k: v for k, v in record.items()
                          if k not in ("replace", "remove_aliases")}
                merged["name"] = name
            merged["aliases"] = [a for a in merged.get("aliases", []) if _key(a) not in drop]
            entry = _entry(merged)
            if owners is None:  # spelling -> entries that have it, built on first need
                owners = {}
                for key, other in by_name.items():
                    for alias in other.aliases:
                        owners.setdefault(_key(alias), set()).add(key)
            own = name.casefold()
            for spelling in {_key(a) for a in entry.spellings} - {""}:
                for key in owners.get(spelling, set()) - {own}:  # it leaves the other entry
                    holder = by_name.get(key)
                    if holder is None:
                        continue
                    kept = tuple(a for a in holder.aliases if _key(a) != spelling)
                    by_name[key] = dataclasses.replace(holder, aliases=kept)
                owners[spelling] = {own}
            by_name[own] = entry
        return Catalog(list(by_name.values()))

    # -- lookups ------------------------------------------------------------------------
    def lookup(self, name: str) -> CatalogEntry | None:
        """The entry whose name or alias is `name` (case-insensitive, punctuation-tolerant)."""
        if not name:
            return None
        found = self._candidates(_key(name))
        if found:
            return found[0][0]
        key = squash(name)
        return self._by_squash(key) if key else None

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
        first_tokens, keys, prefixes = self._first_tokens, self._keys, self._prefixes
        max_tokens = self._max_tokens
        mentions: list[Mention] = []
        i = 0
        while i < n:
            size = 0
            gram = folded[i]
            if gram in first_tokens:  # most words start no name: one set lookup
                # the keys starting here, shortest first: a longer one only while the tokens
                # so far begin some key and the next is joined to them (only spaces between,
                # no blank line)
                found: list[tuple[int, int]] = []
                limit = min(max_tokens, n - i)
                grams = 1
                while True:
                    row = keys.get(gram)
                    if row is not None:
                        found.append((grams, row))
                    if grams >= limit or gram not in prefixes:
                        break
                    gap = text[tokens[i + grams - 1].end() : tokens[i + grams].start()]
                    if not gap.isspace() or "\n\n" in gap:
                        break
                    gram = gram + " " + folded[i + grams]
                    grams += 1
                for grams, row in reversed(found):  # the longest match first
                    start, end = tokens[i].start(), tokens[i + grams - 1].end()
                    entry = _pick(self._owners_at(row), text[start:end])
                    if entry is not None:
                        mentions.append(Mention(start, end, text[start:end], entry))
                        size = grams
                        break
            if size == 0 and "-" in folded[i]:
                surface, entry = self._match_hyphen_prefix(tokens[i].group(0))
                if entry is not None:
                    start = tokens[i].start()
                    mentions.append(Mention(start, start + len(surface), surface, entry))
            i += max(size, 1)
        return mentions

    def _match(self, surface: str) -> CatalogEntry | None:
        candidates = self._candidates(_key(surface))
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


def _prefixes(keys: Iterable[str]) -> frozenset[str]:
    """The first 1..n-1 tokens of every key of n tokens: where a longer match may go on."""
    found: set[str] = set()
    for key in keys:
        parts = key.split(" ")
        for end in range(1, len(parts)):
            found.add(" ".join(parts[:end]))
    return frozenset(found)


def clean_name(name: str) -> str:
    """A tidy display form for a name that is not in the catalog."""
    return " ".join(name.strip().strip("`*_\"'()[]").split())


_FLAGS = ("case_sensitive", "ambiguous", "generic", "remove", "common_word", "code_only")


def _check_record(record: Any, where: str) -> dict[str, Any]:
    """`record` if it is a well-formed catalog entry; else ConfigError saying what is wrong
    (a user's catalog is input: `"aliases": "abc"` must not become three one-letter names)."""
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: each entry must be a JSON object with a 'name', "
                          f"not {type(record).__name__} {str(record)[:40]!r}")
    name = record.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: an entry's 'name' must be a non-empty string, "
                          f"not {str(name)[:40]!r}")
    aliases = record.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ConfigError(f"{where}: 'aliases' of {name[:40]!r} must be a list of strings")
    if not isinstance(record.get("category", "other"), str):
        raise ConfigError(f"{where}: 'category' of {name[:40]!r} must be a string")
    sources = record.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
        raise ConfigError(f"{where}: 'sources' of {name[:40]!r} must be a list of strings")
    popularity = record.get("popularity", 0.0)
    if isinstance(popularity, bool) or not isinstance(popularity, (int, float)):
        raise ConfigError(f"{where}: 'popularity' of {name[:40]!r} must be a number")
    for flag in _FLAGS:
        if not isinstance(record.get(flag, False), bool):
            raise ConfigError(f"{where}: {flag!r} of {name[:40]!r} must be true or false")
    return record


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


MAX_CATALOG_BYTES = 50_000_000


def _read_records(path: Path) -> list[dict[str, Any]]:
    try:
        if path.stat().st_size > MAX_CATALOG_BYTES:
            raise ConfigError(f"catalog file {path} is over {MAX_CATALOG_BYTES:,} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"catalog file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"catalog file {path} is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read catalog file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"catalog file {path} is not UTF-8 text ({exc.reason} at byte "
                          f"{exc.start}); save it as UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"catalog file {path} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"catalog file {path} is nested too deeply to be a catalog") from exc
    if isinstance(data, dict):
        data = data.get("tools", [])
    if not isinstance(data, list):
        raise ConfigError(f"catalog file {path} must hold a JSON list of tool objects")
    return [_check_record(record, f"catalog file {path}, entry {i + 1}")
            for i, record in enumerate(data)]


CATALOG_FILE = "data/catalog.json"
INDEX_FILE = "data/catalog_index.txt"  # written by scripts/build_catalog.py (render_index)
_INDEX_HEADER = "stackextract catalog index 1"


def _record_lines(text: str) -> list[str] | None:
    """catalog.json's records, one JSON text each, when the file is one record a line
    (as scripts/build_catalog.py writes it); None when it is laid out otherwise."""
    if not (text.startswith("[\n") and text.endswith("\n]\n")):
        return None
    body = text[2:-3]
    return body.split(",\n") if body else []


def _one_record_a_line(raw: bytes, n_entries: int) -> bool:
    """catalog.json (its bytes) is laid out as `_record_lines` reads it, with this many."""
    return (raw.startswith(b"[\n") and raw.endswith(b"\n]\n")
            and raw.count(b"\n") == n_entries + 2)


class _Index:
    """The bundled catalog's keys, precomputed: what `Catalog.__init__` would build, stored
    as lines (data/catalog_index.txt) that load with a few `str.split` calls.

    Lines: the header (`<header> <catalog.json sha> <entries> <keys> <prefixes> <first
    tokens> <squashed spellings> <max tokens>`); the first words of names and their counts
    (`name_heads`), on one line; the folded key of each spelling, one a line; the owners of
    each key (`entry<TAB>spelling<TAB>...`, entry numbers into catalog.json's records); the
    key prefixes; the first tokens. Then what only some texts need, split on first use: the
    squashed spellings, their entry numbers (one line), the entry names.
    """

    def __init__(self, text: str, raw: bytes, counts: list[int]) -> None:
        n_entries, n_keys, n_prefixes, n_first, n_squash, self.max_tokens = counts
        self.size = n_entries
        self._raw = raw  # catalog.json: entry i is made from its line i + 1
        self._lines: list[bytes] | None = None
        eager = 2 + 2 * n_keys + n_prefixes + n_first
        rows = text.split("\n", eager)
        self._heads = rows[1]
        at = 2
        self.rows = dict(zip(rows[at : at + n_keys], itertools.count()))
        at += n_keys
        self._owner_rows = rows[at : at + n_keys]
        at += n_keys
        self.prefixes = frozenset(rows[at : at + n_prefixes])
        at += n_prefixes
        self.first_tokens = frozenset(rows[at : at + n_first])
        self._tail = rows[eager]
        self._n_squash = n_squash
        self._rest: list[str] | None = None
        self._squashed: dict[str, int] | None = None
        self._made: list[CatalogEntry | None] = [None] * n_entries

    def entry(self, i: int) -> CatalogEntry:
        made = self._made[i]
        if made is None:
            if self._lines is None:  # split on the first entry a text needs
                body = self._raw[2:-3]
                self._lines = body.split(b",\n") if body else []
            made = self._made[i] = _entry(json.loads(self._lines[i]))
        return made

    def all_entries(self) -> list[CatalogEntry]:
        """Every entry (one JSON parse of the whole file; those made already are kept)."""
        records = json.loads(self._raw)
        made = self._made
        for i, record in enumerate(records):
            if made[i] is None:
                made[i] = _entry(record)
        return [e for e in made if e is not None]

    def owners(self, row: int) -> list[tuple[CatalogEntry, str]]:
        parts = self._owner_rows[row].split("\t")
        return [(self.entry(int(parts[j])), parts[j + 1]) for j in range(0, len(parts), 2)]

    def heads(self) -> dict[str, int]:
        parts = self._heads.split()
        return {parts[j]: int(parts[j + 1]) for j in range(0, len(parts), 2)}

    def _rest_rows(self) -> list[str]:
        if self._rest is None:
            self._rest = self._tail.split("\n")
        return self._rest

    @property
    def names(self) -> list[str]:
        return self._rest_rows()[self._n_squash + 1 : self._n_squash + 1 + self.size]

    def squashed(self, key: str) -> CatalogEntry | None:
        if self._squashed is None:
            rest = self._rest_rows()
            ids = map(int, rest[self._n_squash].split())
            self._squashed = dict(zip(rest[: self._n_squash], ids, strict=True))
        i = self._squashed.get(key)
        return None if i is None else self.entry(i)

    @classmethod
    def read(cls, text: str, raw: bytes, digest: str) -> _Index | None:
        """The index in `text` if it was built from this catalog.json (`digest`) and is
        well formed; None otherwise (the catalog is then built from its records)."""
        header, _, _ = text.partition("\n")
        parts = header.rsplit(" ", 7)
        if len(parts) != 8 or parts[0] != _INDEX_HEADER or parts[1] != digest:
            return None
        try:
            counts = [int(x) for x in parts[2:]]
        except ValueError:
            return None
        n_entries, n_keys, n_prefixes, n_first, n_squash, _ = counts
        if not _one_record_a_line(raw, n_entries):
            return None
        lines = 2 + 2 * n_keys + n_prefixes + n_first + n_squash + 1 + n_entries
        if text.count("\n") != lines:
            return None
        return cls(text, raw, counts)


def _name_heads(names: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        words = name.split()
        if len(words) > 1 and words[0][:1].isupper():
            counts[words[0]] = counts.get(words[0], 0) + 1
    return counts


def render_index(catalog_text: str) -> str:
    """The text of data/catalog_index.txt for this catalog.json text: the keys, owners,
    prefixes, first tokens and squashed spellings `Catalog` builds from it, written out so
    that the bundled catalog loads them instead of building them (scripts/build_catalog.py)."""
    lines = _record_lines(catalog_text)
    records = json.loads(catalog_text)
    if lines is None or [json.loads(line) for line in lines] != records:
        raise ValueError("catalog.json must hold one record a line to be indexed")
    catalog = Catalog.from_records(records)
    number = {id(entry): i for i, entry in enumerate(catalog.entries)}
    keys = sorted(catalog._keys, key=catalog._keys.__getitem__)
    owners = ["\t".join(f"{number[id(e)]}\t{spelling}" for e, spelling in found)
              for found in catalog._owners if found is not None]
    prefixes = sorted(catalog._prefixes)
    first = sorted(catalog._first_tokens)
    squashed: dict[str, int] = {}
    for i, entry in enumerate(catalog.entries):
        for spelling in entry.spellings:
            squashed.setdefault(squash(spelling), i)
    names = catalog.names()
    for row in (*keys, *owners, *prefixes, *first, *squashed, *names):
        if "\n" in row:
            raise ValueError(f"a catalog spelling holds a line break: {row[:40]!r}")
    for e in catalog.entries:
        if any("\t" in s for s in e.spellings):
            raise ValueError(f"a catalog spelling holds a tab: {e.name[:40]!r}")
    header = (f"{_INDEX_HEADER} {_digest(catalog_text)} {len(records)} {len(keys)} "
              f"{len(prefixes)} {len(first)} {len(squashed)} {catalog._max_tokens}")
    heads = " ".join(f"{word} {n}" for word, n in _name_heads(names).items())
    rows = [header, heads, *keys, *owners, *prefixes, *first, *squashed,
            " ".join(str(i) for i in squashed.values()), *names]
    return "\n".join(rows) + "\n"


@lru_cache(maxsize=1)
def _bundled() -> Catalog:
    import hashlib

    package = resources.files("stackextract")
    raw = package.joinpath(CATALOG_FILE).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]  # = _digest of its text
    index_file = package.joinpath(INDEX_FILE)
    index = _Index.read(index_file.read_text("utf-8"), raw, digest) \
        if index_file.is_file() else None
    if index is not None:
        catalog = Catalog._from_index(index)
    else:  # no index, or one built from another catalog.json: build it here (slower)
        catalog = Catalog.from_records(json.loads(raw.decode("utf-8")))
    catalog._fingerprint = digest  # the file's hash: no need to walk 20k entries
    return catalog


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=8)
def _merged(path: str, stamp: tuple[int, int] = (0, 0)) -> Catalog:
    records = _read_records(Path(path))
    catalog = _bundled().merge(records)
    # the bundled catalog's hash and the user's records: what the merged catalog is made of
    user = json.dumps(records, sort_keys=True, default=str)
    catalog._fingerprint = _digest(_bundled().fingerprint + user)
    return catalog
