"""Assemble src/stackextract/data/catalog.json from scripts/catalog_sources/.

Two kinds of source: the hand-kept lists (`*.txt`, source `curated`) and the extracts of public,
maintained lists (`public/*.tsv`, one per source, each pinned to a commit or list date; see
scripts/refresh_catalog_sources.py and docs/catalog.md). This script maps each source's
categories onto ours, merges the names into one entry per tool, records what the build knows
about each (sources, popularity, whether the name is a common English word by `wordfreq`),
adds the mechanical spelling variants, checks the rules the matcher relies on, and writes the
sorted JSON, and next to it catalog_index.txt: the matcher's keys precomputed from that JSON,
which the bundled catalog loads instead of building them in every process. The same inputs
always give the same files, byte for byte.

    python scripts/build_catalog.py            # rebuild catalog.json and catalog_index.txt
    python scripts/build_catalog.py --check    # fail when catalog.json is stale or a rule is broken
    python scripts/build_catalog.py --report   # counts per category and the flagged word list
    python scripts/build_catalog.py --make-words  # regenerate tests/catalog_common_words.txt
                                               # (needs: pip install wordfreq english-words)
    python scripts/build_catalog.py --output PATH  # write elsewhere (the rebuild test does;
                                               # the index goes next to PATH)

Needs `wordfreq` (the `catalog` extra: pip install -e '.[catalog]').

Source line format (one tool a line, `#` starts a comment, `@category NAME` sets the category
of the lines that follow):

    Name | alias; alias | flags

flags: `cs` (case-sensitive: every spelling matches only exactly as written) and `amb`
(ambiguous: an ordinary word even when capitalised, the extractor needs supporting context) and
`gen` (generic: a format or protocol every team touches, e.g. JSON or HTML; reported only when the
text says the team chose or uses it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "catalog_sources"
OUTPUT = ROOT / "src" / "stackextract" / "data" / "catalog.json"
INDEX = OUTPUT.with_name("catalog_index.txt")  # the matcher's keys, prebuilt (render_index)
WORDS = ROOT / "tests" / "catalog_common_words.txt"
DOMAIN_WORDS = SOURCES / "domain_words.txt"


def _categories() -> frozenset[str]:
    """The Category enum of models.py, read from the source tree so that the lists never drift."""
    sys.path.insert(0, str(ROOT / "src"))
    from stackextract.models import Category

    return frozenset(c.value for c in Category)


CATEGORIES = _categories()

from stackextract.catalog.vocabulary import render_index  # noqa: E402 (path set just above)

FLAGS = {"cs", "amb", "gen"}
PUBLIC = SOURCES / "public"
CATEGORY_MAP = SOURCES / "category_map.tsv"
CURATED = "curated"
CURATED_POPULARITY = 0.7
# Which source names a tool first (its spelling becomes the entry's name): the curated lists,
# then the lists that spell products the way their makers do, then the package registries.
SOURCE_ORDER = ["curated", "landscape", "linguist", "webappanalyzer", "awesome-python",
                "awesome-go", "awesome-rust", "awesome-selfhosted", "awesome-ios", "awesome-swift",
                "awesome-java", "awesome-nodejs", "awesome-sysadmin", "awesome-shell",
                "awesome-elixir", "pypi", "npm", "simple-icons", "debian"]
REGISTRIES = {"pypi", "npm"}
# Sources that only confirm a name another source brings (no categories; simple-icons also
# holds brands that are not software, Debian names are mostly not products).
CONFIRM_ONLY = {"simple-icons", "debian"}
COMMON_ZIPF = 3.0  # wordfreq Zipf frequency from which a name counts as a common English word
WORD_PART_ZIPF = 1.5  # a lower-case name all of whose parts are this frequent reads as words
COINED_ZIPF = 1.0  # a public-only name rarer than this matches in any case
RARE_ZIPF = 2.0  # ... rarer than this, also capitalised
REGISTRY_WORD_ZIPF = 2.5  # a package-registry name this frequent is a word, not a tool: left out
_NAME_OK = re.compile(r"[\w][\w .+#&'/:-]*[\w+#]|[\w]{2}")
_PREFIX_SWAP = {"Amazon ": "AWS ", "AWS ": "Amazon "}
_NO_SWAP = {"Amazon Web Services", "AWS"}


class CatalogSourceError(Exception):
    """A source line or the assembled catalog breaks a rule; the message says which and where."""


@dataclass
class Entry:
    """One tool as it is written to catalog.json."""

    name: str
    category: str
    aliases: list[str] = field(default_factory=list)
    case_sensitive: bool = False
    ambiguous: bool = False
    generic: bool = False
    origin: str = ""
    sources: list[str] = field(default_factory=lambda: [CURATED])
    popularity: float = CURATED_POPULARITY
    common_word: bool = False
    code_only: bool = False

    def terms(self) -> list[str]:
        """The name and every alias."""
        return [self.name, *self.aliases]

    @property
    def curated(self) -> bool:
        return CURATED in self.sources

    def to_json(self) -> dict[str, object]:
        """The entry as written: false flags and empty alias lists are left out (the loader
        reads them as false / empty), which keeps the bundled file small and fast to load."""
        record: dict[str, object] = {"name": self.name}
        if self.aliases:
            record["aliases"] = self.aliases
        record["category"] = self.category
        for key in ("case_sensitive", "ambiguous", "common_word", "code_only", "generic"):
            if getattr(self, key):
                record[key] = True
        record["popularity"] = self.popularity
        record["sources"] = self.sources
        return record


def load_words(path: Path = WORDS) -> set[str]:
    """Common English words (lower case), one a line; empty when the file is absent."""
    if not path.exists():
        return set()
    return {w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip()}


def parse_sources(directory: Path = SOURCES) -> list[Entry]:
    """Read every *.txt list in `directory` into entries (no variants added yet)."""
    entries: list[Entry] = []
    for path in sorted(directory.glob("*.txt")):
        if path.name == DOMAIN_WORDS.name:
            continue
        category: str | None = None
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{number}"
            line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
            if not line:
                continue
            if line.startswith("@category"):
                category = line.split(None, 1)[1].strip()
                if category not in CATEGORIES:
                    raise CatalogSourceError(f"{where}: unknown category {category!r}")
                continue
            if category is None:
                raise CatalogSourceError(f"{where}: add an '@category NAME' line before tools")
            parts = [p.strip() for p in line.split("|")]
            if len(parts) > 3 or not parts[0]:
                raise CatalogSourceError(f"{where}: expected 'Name | aliases | flags'")
            aliases = [a.strip() for a in parts[1].split(";")] if len(parts) > 1 else []
            flags = set(parts[2].split()) if len(parts) > 2 else set()
            if flags - FLAGS:
                raise CatalogSourceError(f"{where}: unknown flags {sorted(flags - FLAGS)}")
            entries.append(
                Entry(
                    name=parts[0],
                    category=category,
                    aliases=[a for a in aliases if a],
                    case_sensitive="cs" in flags,
                    ambiguous="amb" in flags,
                    generic="gen" in flags,
                    origin=where,
                )
            )
    return entries


def _tokens(term: str) -> list[str]:
    return [t for t in re.split(r"[^a-z]+", term.lower()) if t]


def _is_word(token: str, words: set[str]) -> bool:
    """An English word, plurals included (the word list holds dictionary forms only)."""
    return token in words or (len(token) > 3 and token.endswith("s") and token[:-1] in words)


def add_variants(entry: Entry, words: set[str]) -> None:
    """Add the mechanical spellings people write: AWS/Amazon swaps, 'FooJS' for 'Foo.js', and
    for case-sensitive entries the lower-case form of spellings that are not ordinary words."""
    extra: list[str] = []
    for term in entry.terms():
        for prefix, other in _PREFIX_SWAP.items():
            if term.startswith(prefix) and term not in _NO_SWAP and len(term) > len(prefix):
                extra.append(other + term[len(prefix) :])
        if term.endswith(".js") and " " not in term:
            extra.append(term[:-3] + "JS")
    if entry.case_sensitive:
        for term in [*entry.terms(), *extra]:
            lowered = term.lower()
            if lowered == term or not re.search(r"[\s.\-0-9]", term):
                continue
            if all(_is_word(tok, words) for tok in _tokens(term)):
                continue  # an ordinary phrase in lower case ("lambda functions")
            extra.append(lowered)
    entry.aliases = _dedupe(entry.name, [*entry.aliases, *extra], entry.case_sensitive)


def _dedupe(name: str, aliases: list[str], case_sensitive: bool) -> list[str]:
    def key(s: str) -> str:
        return s if case_sensitive else s.casefold()

    seen = {key(name)}
    out: list[str] = []
    for alias in aliases:
        if key(alias) not in seen:
            seen.add(key(alias))
            out.append(alias)
    return out


def word_problems(entries: list[Entry], words: set[str]) -> list[str]:
    """Spellings that are ordinary English words but could match without supporting context."""
    problems = []
    for e in entries:
        if e.ambiguous:
            continue
        for term in e.terms():
            if term.lower() not in words:
                continue
            if e.case_sensitive and term != term.lower():
                continue  # exact capitalised form: tolerated, reviewed by --report
            problems.append(f"{e.origin}: {e.name!r} spelling {term!r} is an English word")
    return problems


def conflicts(entries: list[Entry]) -> list[str]:
    """Names or aliases claimed by two entries (compared case-insensitively)."""
    owner: dict[str, Entry] = {}
    problems = []
    for e in entries:
        for term in {t.casefold() for t in e.terms()}:
            other = owner.get(term)
            if other is not None and other is not e:
                problems.append(
                    f"{term!r}: {other.name} ({other.origin}) and {e.name} ({e.origin})"
                )
            owner.setdefault(term, e)
    return problems


# -- public sources ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PublicItem:
    """One name of one public extract, its category already mapped onto ours."""

    name: str
    aliases: tuple[str, ...]
    category: str
    popularity: float
    source: str


def _category_rows() -> list[tuple[set[str], re.Pattern[str] | None, str]]:
    rows = []
    for number, raw in enumerate(CATEGORY_MAP.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 3:
            raise CatalogSourceError(f"{CATEGORY_MAP.name}:{number}: expected 3 tab-separated "
                                     "fields")
        sources, pattern, category = parts
        if category != "skip" and category not in CATEGORIES:
            raise CatalogSourceError(f"{CATEGORY_MAP.name}:{number}: unknown category {category!r}")
        regex = None if pattern == "default" else re.compile(pattern, re.I)
        rows.append((set(sources.split("|")), regex, category))
    return rows


def shared_category_patterns() -> list[re.Pattern[str]]:
    """The rows shared by every source (`*`): refresh_catalog_sources.py keeps the words of a
    package summary that these find, and nothing else of the summary."""
    return [regex for sources, regex, _ in _category_rows() if "*" in sources and regex]


def map_category(source: str, text: str, rows: list | None = None) -> str | None:
    """Our category for a source's own category text; None when the item is left out."""
    rows = _category_rows() if rows is None else rows
    ordered = [r for r in rows if source in r[0] and r[1] is not None]
    ordered += [r for r in rows if "*" in r[0]]
    for _, regex, category in ordered:
        if regex is not None and regex.search(text):
            return None if category == "skip" else category
    for sources, regex, category in rows:
        if source in sources and regex is None:
            return None if category == "skip" else category
    return None


def read_public(directory: Path = PUBLIC) -> tuple[list[PublicItem], dict[str, dict[str, str]]]:
    """Every extract's items (categories mapped, left-out ones dropped) and each header."""
    rows = _category_rows()
    items: list[PublicItem] = []
    headers: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.tsv")):
        source = path.stem
        if source not in SOURCE_ORDER:
            raise CatalogSourceError(f"{path.name}: add {source!r} to SOURCE_ORDER")
        header: dict[str, str] = {}
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.startswith("#"):
                key, _, value = raw[1:].partition(":")
                if value and "\t" not in raw:
                    header[key.strip()] = value.strip()
                continue
            name, aliases, category_text, popularity = raw.split("\t")
            category = map_category(source, category_text, rows)
            if category is None:
                continue
            items.append(PublicItem(
                name=name,
                aliases=tuple(a for a in aliases.split("; ") if a),
                category=category,
                popularity=float(popularity),
                source=source,
            ))
        headers[source] = header
    return items, headers


def _zipf() -> Callable[[str], float]:
    try:
        from wordfreq import zipf_frequency
    except ImportError as exc:  # a build-time dependency only
        raise CatalogSourceError(
            "the catalog build needs wordfreq: pip install -e '.[catalog]'"
        ) from exc

    @cache
    def zipf(term: str) -> float:
        return float(zipf_frequency(term.replace("-", " ").replace("_", " "), "en"))

    return zipf


def _name_ok(name: str) -> bool:
    """A product-like name: 3+ characters, at most four words, no sentence punctuation."""
    return (
        3 <= len(name) <= 40
        and len(name.split()) <= 4
        and not name.replace(".", "").isdigit()
        and _NAME_OK.fullmatch(name) is not None
    )


def merge_public(entries: list[Entry], items: list[PublicItem], words: set[str]) -> list[Entry]:
    """Fold public names into the curated entries (a curated entry only gains sources and
    popularity) or into new entries; a spelling already owned by another entry is not added.

    Public-only entries are case-sensitive (matched as their sources spell them); one whose
    name is a common English word is ambiguous; a name known only from a package registry
    that is a word is left out altogether (npm's 'colors', 'debug', 'request')."""
    zipf = _zipf()
    owner: dict[str, Entry] = {}
    by_squash: dict[str, Entry] = {}
    for e in entries:
        for term in e.terms():
            owner.setdefault(term.casefold(), e)
        by_squash.setdefault(_squash(e.name), e)
    grouped: dict[str, list[PublicItem]] = {}
    rank = {s: i for i, s in enumerate(SOURCE_ORDER)}
    for item in sorted(items, key=lambda i: (rank[i.source], i.name.casefold(), i.name)):
        if not _name_ok(item.name):
            continue
        grouped.setdefault(item.name.casefold(), []).append(item)
    new: list[Entry] = []
    for key in sorted(grouped, key=lambda k: (rank[grouped[k][0].source], k)):
        group = grouped[key]
        first = group[0]
        squashed = _squash(first.name)
        entry = owner.get(key) or (by_squash.get(squashed) if len(squashed) >= 4 else None)
        group_sources = {i.source for i in group}
        if entry is None and group_sources <= CONFIRM_ONLY:
            continue
        if entry is None:
            registry_only = group_sources - CONFIRM_ONLY <= REGISTRIES
            if registry_only and (
                zipf(first.name) >= REGISTRY_WORD_ZIPF or _common(first.name, zipf)
            ):
                continue
            entry = Entry(
                name=first.name, category=first.category, case_sensitive=True,
                origin=f"public/{first.source}.tsv", sources=[], popularity=0.0,
            )
            new.append(entry)
            owner[key] = entry
            by_squash.setdefault(squashed, entry)
        for item in group:
            if item.source not in entry.sources:
                entry.sources.append(item.source)
            entry.popularity = max(entry.popularity, item.popularity)
            if entry.curated:
                continue
            for spelling in (item.name, *item.aliases):
                if spelling == entry.name or spelling in entry.aliases:
                    continue
                holder = owner.get(spelling.casefold())
                if holder is not None and holder is not entry:
                    continue
                if spelling == spelling.lower() and spelling.lower() in words:
                    continue  # a lower-case English word would match prose
                entry.aliases.append(spelling)
                owner.setdefault(spelling.casefold(), entry)
    for e in [*entries, *new]:
        e.sources.sort(key=lambda s: rank[s])
        e.popularity = round(min(1.0, e.popularity + 0.05 * (len(e.sources) - 1)), 3)
        e.common_word = _common(e.name, zipf)
        if not e.curated:
            e.ambiguous = e.common_word
            registry_only = set(e.sources) - CONFIRM_ONLY <= REGISTRIES
            # a word-like name, or a plain lower-case word known only from a package registry
            # ('lockfile'): a tool only when written as code
            e.code_only = _word_like(e.name, zipf) or (
                registry_only and re.fullmatch(r"[a-z]+", e.name) is not None
            )
            # a coined name that English text never uses ('SwiftyJSON') is safe in any case; a
            # rare one ('kOps', 'Clicky') also matches capitalised ('Kops'), not in lower case
            rarity = zipf(e.name)
            e.case_sensitive = not (len(e.name) >= 4 and rarity < COINED_ZIPF)
            capitalised = e.name[:1].upper() + e.name[1:].lower()
            if e.case_sensitive and rarity < RARE_ZIPF and capitalised not in e.terms():
                e.aliases.append(capitalised)
    # a word-like name that one list alone has ('app', 'release' from an awesome-list) is
    # left out: one list is not enough to read a word as a tool, even in code
    new = [e for e in new if not (e.code_only and len(e.sources) == 1
                                  and e.sources[0] not in REGISTRIES)]
    for e in new:
        add_variants(e, words)
        e.aliases = [
            a for a in e.aliases
            if owner.setdefault(a.casefold(), e) is e
            and not ((e.case_sensitive is False or a == a.lower()) and a.lower() in words)
            and (e.case_sensitive or len(a) > 2)
        ]
    return [*entries, *new]


def _common(name: str, zipf: Callable[[str], float]) -> bool:
    """A common English word, or a phrase of common words only ('Human Presence')."""
    if re.search(r"\d", name):
        return False  # a version or model number makes it a name ('.NET 5', 'Log4j')
    tokens = re.findall(r"[^\W\d_]+", name)
    if len(tokens) <= 1:
        return bool(tokens) and zipf(tokens[0]) >= COMMON_ZIPF
    return all(zipf(t) >= COMMON_ZIPF for t in tokens)


def _word_like(name: str, zipf: Callable[[str], float]) -> bool:
    """A name that prose uses as a word: a capitalised one at least as frequent as
    REGISTRY_WORD_ZIPF ('Config', 'Here', 'Router'), or a lower-case one whose every part is at
    least WORD_PART_ZIPF ('retry', 'async', 'uuid', 'real-time'). Names with digits or dots
    ('boto3', 'nats.rs') are never word-like."""
    if re.search(r"[\d.]", name):
        return False
    parts = [p for p in re.split(r"[\s_-]+", name) if p]
    if name != name.lower():
        if len(parts) > 1:
            return False  # a multi-word name: ambiguous (needs context) when all are words
        return zipf(name) >= REGISTRY_WORD_ZIPF
    return all(zipf(p) >= WORD_PART_ZIPF for p in parts)


def _squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def build(words: set[str] | None = None) -> list[Entry]:
    """Parse, add variants, check; raise CatalogSourceError listing every problem found."""
    words = load_words() if words is None else words
    entries = parse_sources()
    for e in entries:
        add_variants(e, words)
    problems = conflicts(entries)
    if problems:
        raise CatalogSourceError("\n".join(problems))
    items, _ = read_public()
    entries = merge_public(entries, items, words)
    problems = conflicts(entries) + word_problems(entries, words)
    if problems:
        raise CatalogSourceError("\n".join(problems))
    entries.sort(key=lambda e: (e.name.casefold(), e.name))
    return entries


def render(entries: list[Entry]) -> str:
    """JSON array, one object a line, so that diffs stay readable."""
    rows = [json.dumps(e.to_json(), ensure_ascii=False) for e in entries]
    return "[\n" + ",\n".join(rows) + "\n]\n"


def report(entries: list[Entry], words: set[str]) -> str:
    """Counts per category and the case-sensitive capitalised words kept without 'amb'."""
    lines = [f"entries: {len(entries)}"]
    for cat, n in sorted(Counter(e.category for e in entries).items(), key=lambda kv: -kv[1]):
        lines.append(f"  {cat:15} {n}")
    anywhere = Counter(s for e in entries for s in e.sources)
    only = Counter(e.sources[0] for e in entries if len(e.sources) == 1)
    lines.append("source              entries  only from it")
    for source in SOURCE_ORDER:
        lines.append(f"  {source:18} {anywhere[source]:7}  {only[source]:7}")
    lines.append(
        f"flags: ambiguous {sum(e.ambiguous for e in entries)}, common_word "
        f"{sum(e.common_word for e in entries)}, code_only {sum(e.code_only for e in entries)}, "
        f"case_sensitive {sum(e.case_sensitive for e in entries)}"
    )
    tolerated = [
        f"{e.name}: {t}"
        for e in entries
        if e.case_sensitive and not e.ambiguous
        for t in e.terms()
        if t.lower() in words
    ]
    lines.append(f"capitalised word spellings kept without 'amb' ({len(tolerated)}):")
    lines.extend(f"  {t}" for t in tolerated)
    return "\n".join(lines)


def make_words() -> int:
    """Common English words: Webster's 2nd (web2) entries with wordfreq Zipf >= 3.0, minus the
    tool names kept in domain_words.txt."""
    try:
        from english_words import get_english_words_set  # type: ignore[import-not-found]
        from wordfreq import zipf_frequency  # type: ignore[import-not-found]
    except ImportError:
        print("pip install wordfreq english-words, then run again", file=sys.stderr)
        return 2
    domain = load_words(DOMAIN_WORDS)
    web2 = get_english_words_set(["web2"], lower=True)
    common = sorted(w for w in web2 if zipf_frequency(w, "en") >= 3.0 and w not in domain)
    WORDS.write_text("\n".join(common) + "\n", encoding="utf-8")
    print(f"wrote {len(common)} words to {WORDS.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if catalog.json is stale")
    parser.add_argument("--report", action="store_true", help="print counts and flagged words")
    parser.add_argument("--make-words", action="store_true", help="regenerate the word list")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    if args.make_words:
        return make_words()
    try:
        entries = build()
    except CatalogSourceError as exc:
        print(f"catalog sources have problems:\n{exc}", file=sys.stderr)
        return 1
    text = render(entries)
    index = render_index(text)
    index_path = args.output.with_name(INDEX.name)
    if args.report:
        print(report(entries, load_words()))
    if args.check:
        for path, want in ((OUTPUT, text), (INDEX, index)):
            if not path.exists() or path.read_text(encoding="utf-8") != want:
                print(
                    f"{path.relative_to(ROOT)} is stale: run scripts/build_catalog.py",
                    file=sys.stderr,
                )
                return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(text.encode("utf-8"))
    index_path.write_bytes(index.encode("utf-8"))  # what Catalog.bundled() loads
    print(f"wrote {len(entries)} entries to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
