"""Names that are not in the catalog but that the text treats as products.

No list has every tool, so the recogniser scores the names the catalog lacks by the evidence
around them, and proposes those with enough of it (at a confidence below the catalog's own):

- a cue: "we use X", "switched to X", "a tool called X", "X is a library ...";
- a link whose target names it: `[Hokusai](https://github.com/artsy/hokusai)`,
  `[Mongoid](http://mongoid.org/)`;
- a short list item whose siblings are catalog tools;
- the shape of a product name: CamelCase or inner capitals (`CitrusDB`, `OHHTTPStubs`),
  dots or digits (`fred.rs`, `rebar3`), a capitalised word that is no English word;
- company: an enumeration ("A, B and C") whose other members are catalog tools, and a
  second mention elsewhere.

Scores add up; a name is proposed where it reaches `THRESHOLD`. The weights are set by
hand from what the signals mean, not fitted to the gold files.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from urllib.parse import urlsplit

from stackextract.catalog import Catalog, CatalogEntry, Mention, is_common_word, squash
from stackextract.models import Category
from stackextract.offline.prose import code_spans
from stackextract.offline.sentences import Sentence

_WORD = r"[A-Z][A-Za-z0-9]*(?:[.+#-][A-Za-z0-9]+)*"
_NAME = rf"({_WORD}(?:\s{_WORD}){{0,2}})"
# an identifier-like name: letters with digits, dots, hyphens or underscores inside
_IDENT = r"[A-Za-z][A-Za-z0-9]*(?:[._-][A-Za-z0-9]+)+|[A-Za-z]+[0-9]+[A-Za-z0-9]*"
_ANY_NAME = rf"((?:{_IDENT})|{_WORD}(?:\s{_WORD}){{0,2}})"
_CUE = re.compile(
    r"\b(?i:we(?:'re| are)? (?:now |also |still )?(?:use|using|chose|picked|adopted|rely on|run|"
    r"deploy(?:ed)? on|host(?:ed)? on|went with|settled on)|switched to|moved to|migrated to|"
    r"built (?:on|with)|powered by)\s+" + _ANY_NAME
)
# "a tool called X", or a quoted name after "called"/"named" (a bare "called X" is too loose)
_CALLED = re.compile(
    r"\b(?i:(?:a|an|the) (?:\w+ )?(?:tool|library|framework|service|daemon|system|project|gem|"
    r"package|crate|plugin|module) (?:called|named)\s+[\"'“‘]?|(?:called|named|dubbed)\s+"
    r"[\"'“‘])" + _ANY_NAME
)
_IS_A = re.compile(
    _ANY_NAME + r"[\"'”’]?,? (?:is|was) (?:a|an|our) (?:[\w-]+ ){0,4}?(?:tool|library|framework|"
    r"service|daemon|database|server|platform|system|engine|language|gem|package|crate|plugin|"
    r"module|toolkit|runtime|client|driver|formatter|linter|proxy|queue|api|sdk|cli)\b"
)
# "the Mongoid ORM adapter", "Expecta matchers": a name followed by the kind of thing it is
_NOUN = re.compile(
    r"(?<![\w.-])([A-Z][A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*) (?:ORM|adapter|library|gem|"
    r"framework|plugin|driver|client|crate|package|module|matchers?|toolkit|SDK|CLI|daemon|"
    r"bindings?|wrapper|extension|middleware|runtime|formatter|linter)s?\b"
)


# where an _IS_A match joins its name to " is a ...": every match has one, right after its
# name (which holds at most two whitespace characters)
_IS_A_JUNCTION = re.compile(r"(?= (?:is|was) (?:a|an|our) )")


def _is_a_matches(view: str) -> Iterator[re.Match[str]]:
    """What `_IS_A.finditer(view)` finds, trying the pattern only just before each junction
    instead of at every character (it was most of the recogniser's time).

    A match's name holds no junction and at most two whitespace characters, and _IS_A looks
    at nothing before its start: so the leftmost match from a position, if any, starts after
    the third whitespace character before one of the junctions from there and before that
    junction, and trying those positions in order finds it."""
    junctions = [m.start() for m in _IS_A_JUNCTION.finditer(view)]
    pos = tried = 0  # matches start at pos or later; positions below `tried` failed
    for junction in junctions:
        if junction < pos:
            continue
        start, spaces = junction, 0
        while start > pos and spaces < 3:
            start -= 1
            if view[start].isspace():
                spaces += 1
        if spaces == 3:
            start += 1  # just after the third whitespace character
        for at in range(max(start, tried), junction):
            match = _IS_A.match(view, at)
            if match is not None:
                yield match
                pos = match.end()
                break
        tried = max(tried, junction)


_SHAPE = re.compile(
    r"(?<![\w./-])(?:[A-Z]?[a-z]+[A-Z][A-Za-z0-9]*|[A-Z]{2,}[a-z][A-Za-z0-9]*|"
    r"[A-Za-z][A-Za-z0-9]*\.(?:js|rs|io|py|net|sh)|[A-Za-z]+[0-9]+[A-Za-z0-9]*)(?![\w/-])"
)
_ENUM = re.compile(r"(?:,\s+(?:and\s+|or\s+)?|\s+(?:and|or)\s+)")
_LINK = re.compile(r"\[([^\]\n]{2,60})\]\((https?://[^)\s]+)\)")
# hosts whose path names a project (a repository or a package page)
_PROJECT_HOSTS = re.compile(
    r"(?:^|\.)(?:github\.com|gitlab\.com|bitbucket\.org|github\.io|sourceforge\.net|"
    r"npmjs\.com|pypi\.org|crates\.io|rubygems\.org|pkg\.go\.dev|hex\.pm|cocoapods\.org)$"
)
_GENERIC_HOST_LABELS = {"www", "com", "org", "net", "io", "dev", "app", "co", "docs", "blog"}
_STOP = {
    "The", "A", "An", "Our", "We", "It", "This", "That", "These", "Those", "Some", "All", "Any",
    "Each", "Every", "One", "Two", "Three", "I", "In", "On", "At", "For", "With", "And", "Or",
    "But", "So", "If", "When", "Then", "Now", "Today", "Monday", "Tuesday", "Wednesday",
    "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April", "May",
    "June", "July", "August", "September", "October", "November", "December", "English",
    "API", "APIs", "SDK", "UI", "CLI", "SQL", "HTTP", "HTTPS", "JSON", "YAML", "CSV", "HTML",
    "CSS", "REST", "URL", "DNS", "TLS", "SSL", "CPU", "GPU", "RAM", "SSD", "OS", "AI", "ML",
    "LLM", "LLMs", "MVP", "SaaS", "PaaS", "IaaS", "B2B", "B2C", "CEO", "CTO", "VP", "Q1", "Q2",
    "Q3", "Q4", "Yes", "No", "OK", "Also", "Here", "There", "What", "Why", "How", "Who",
    "iPhone", "iPad", "PhD", "FAQ", "FAQs", "TODO", "README", "YouTube", "LinkedIn",
}
_FILE_EXT = re.compile(r"\.(?:json|ya?ml|md|txt|html?|css|lock|toml|xml|cfg|ini|log|csv|png|"
                       r"jpe?g|gif|svg|pdf|zip|gz|tar|rb|go|java|ts|tsx|jsx|c|h|cpp)$", re.I)

THRESHOLD = 0.55
# one strong signal suffices (a cue, a link to the project, a list of tools); the shape of a
# name, an enumeration with tools, a non-word and a second mention only add up
CUE, LINK, LIST, SHAPE, COINED, ENUM, REPEAT, VENDOR = 0.6, 0.6, 0.55, 0.25, 0.1, 0.3, 0.1, 0.45
NOUN = 0.45  # with a coined name (+COINED) it is enough on its own
OWN_LINK, OWN_ACCOUNT_LINKS = 0.3, 3
_STRONG = frozenset({"link", "cue", "list"})
VENDOR_PRODUCTS = 15  # a first word shared by this many catalog names is a vendor's
_VENDOR_NAME = re.compile(r"\b([A-Z][A-Za-z]+)(?: [A-Z][A-Za-z0-9]+){1,3}\b")
_VENDOR_CACHE: dict[int, tuple[Catalog, frozenset[str]]] = {}  # holds the catalog: no id reuse


def _vendors(catalog: Catalog) -> frozenset[str]:
    """First words that many multi-word catalog names share ('Amazon', 'Google', 'Apache'):
    read from the catalog, so that no vendor is named in code."""
    key = id(catalog)
    if key not in _VENDOR_CACHE:
        counts = catalog.name_heads()  # first word -> how many names start with it
        _VENDOR_CACHE.clear()
        _VENDOR_CACHE[key] = (catalog, frozenset(
            w for w, n in counts.items() if n >= VENDOR_PRODUCTS and not is_common_word(w)
        ))
    return _VENDOR_CACHE[key][1]


@dataclass
class _Candidate:
    spans: list[tuple[int, int]]
    score: float = 0.0
    signals: set[str] | None = None


def _entry(name: str, confidence: float, signals: frozenset[str] = frozenset()) -> CatalogEntry:
    """An entry for a proposed name: its sources are the recogniser and the signals that gave
    it, so that the learned tool model reads the evidence, not only the summed score."""
    return CatalogEntry(name=name, category=Category.other, known=False, case_sensitive=True,
                        popularity=round(confidence, 2),
                        sources=("recogniser", *sorted(signals)))


def _clean(name: str) -> str | None:
    name = name.strip(" \t\"'“”‘’.,:;()")
    words = name.split()
    while words and words[-1] in _STOP:
        words.pop()
    if not words or words[0] in _STOP:
        return None
    name = " ".join(words)
    if len(name) < 2 or name.replace(".", "").isdigit() or _FILE_EXT.search(name):
        return None
    return name


def _link_names_it(name: str, url: str) -> bool:
    """The link target is the project's own: a repository or package page whose path names
    it, a site whose host is the name (`mongoid.org`), or, for an identifier-like name
    (`styled-system`, `Ezel.js`), any page whose path names it."""
    key = squash(name)
    if len(key) < 3:
        return False
    keys = {key, squash(_EXT.sub("", name))}
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    labels = [label for label in host.split(".") if label not in _GENERIC_HOST_LABELS]
    # the site's own name: the label before the public suffix (`mongoid.org`), or the first
    # label of a project page on a code host (`rack.github.io`)
    own = labels[0] if _PROJECT_HOSTS.search(host) and len(labels) >= 2 else (
        labels[-1] if labels else "")
    if len(name.split()) == 1 and own and squash(own) in keys:
        return True
    identifier = re.fullmatch(_IDENT, name) is not None or _SHAPE.fullmatch(name) is not None
    if _PROJECT_HOSTS.search(host) or identifier:
        segments = [s for s in parts.path.split("/") if s]
        return any(squash(s) in keys for s in segments[:3])
    return False


def _repository(url: str) -> str | None:
    """'tonic' for https://github.com/hyperium/tonic (a repository's own page, nothing below)."""
    parts = urlsplit(url)
    segments = [seg for seg in parts.path.split("/") if seg]
    if _PROJECT_HOSTS.search((parts.hostname or "").lower()) and len(segments) == 2:
        return segments[1]
    return None


def _account(url: str) -> str | None:
    """'github.com/artsy' for a repository link, None for other links."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [seg for seg in parts.path.split("/") if seg]
    if _PROJECT_HOSTS.search(host) and len(segments) >= 2:
        return f"{host}/{segments[0].lower()}"
    return None


def _own_account(links: list[tuple[str, int, str]]) -> str | None:
    """The code-host account that most of the document's repository links point at (three at
    least): the author's organisation, whose repositories are its own products ('Eigen',
    'Northstar') more often than tools of its stack."""
    counts: dict[str, set[str]] = defaultdict(set)
    for _, _, url in links:
        account = _account(url)
        if account:
            counts[account].add(url)
    if not counts:
        return None
    account, urls = max(counts.items(), key=lambda kv: (len(kv[1]), kv[0]))
    return account if len(urls) >= OWN_ACCOUNT_LINKS else None


_EXT = re.compile(r"\.(?:js|rs|io|py)$", re.I)


def _links(text: str) -> list[tuple[str, int, str]]:
    """(link text, its offset, target) for inline links and reference links
    (`[Ezel][]`, `[muraljs][mural]` with `[mural]: https://...` below)."""
    found = [(m.group(1), m.start(1), m.group(2)) for m in _LINK.finditer(text)]
    found += [(m.group(2), m.start(2), m.group(1)) for m in _HTML_LINK.finditer(text)]
    targets = {m.group(1).strip().casefold(): m.group(2) for m in _REF_DEF.finditer(text)}
    for m in _REF_USE.finditer(text):
        url = targets.get((m.group(2) or m.group(1)).strip().casefold())
        if url:
            found.append((m.group(1), m.start(1), url))
    return found


# raw HTML anchors left in a Markdown page: <a href="https://github.com/hyperium/tonic">tonic</a>
_HTML_LINK = re.compile(r"<a\s[^>]*?href=[\"'](https?://[^\"'\s>]+)[\"'][^>]*>([^<\n]{2,60})</a>",
                        re.I)
_REF_DEF = re.compile(r"^[ \t]{0,3}\[([^\]\n]+)\]:[ \t]*<?(https?://[^\s>]+)", re.M)
_REF_USE = re.compile(r"\[([^\]\n]{2,60})\]\[([^\]\n]*)\]")


@dataclass(frozen=True)
class Scored:
    """One proposed name: its score, the signals that gave it, and where it occurs."""

    name: str
    score: float
    signals: frozenset[str]
    spans: tuple[tuple[int, int], ...]
    entry: CatalogEntry | None = None  # a word-like catalog entry the evidence vouches for


def _shape_ok(name: str) -> bool:
    """A product-shaped token, not a plural acronym ('VMs'), a code or model number ('L1',
    'DR0', 'P99') or a bare identifier of a code sample."""
    if _PLURAL_ACRONYM.fullmatch(name) or _SERIAL.fullmatch(name):
        return False
    return not (re.search(r"\d", name) and len(re.findall(r"[a-z]", name)) < 2)


_PLURAL_ACRONYM = re.compile(r"[A-Z]{2,}[0-9]?s")
_SERIAL = re.compile(r"[A-Z]{1,4}[0-9]+[A-Z]?[0-9]*")


class _Spans:
    """Whether [start, end) meets any of some spans (`any(a < end and start < b ...)`), by
    bisection: among the spans starting before `end`, the one reaching furthest."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [a for a, _ in ordered]
        self._reach: list[int] = []  # the furthest end among the spans up to each one
        for _, b in ordered:
            self._reach.append(max(b, self._reach[-1]) if self._reach else b)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self._starts, end) - 1  # the last span starting before end
        return i >= 0 and self._reach[i] > start


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"  # what `\w` matches in a str pattern


def _standalone(text: str, name: str) -> Iterator[int]:
    r"""Where `name` occurs on its own: what `re.finditer(r"(?<![\w.-])NAME(?![\w-]|\.\w)")`
    finds, by `str.find` (no regex compiled per name)."""
    size, limit = len(name), len(text)
    at = text.find(name)
    while at >= 0:
        end = at + size
        before = text[at - 1] if at else ""
        after = text[end] if end < limit else ""
        if not (before and (_is_word(before) or before in ".-")) and not (
            after and (_is_word(after) or after == "-"
                       or (after == "." and end + 1 < limit and _is_word(text[end + 1])))
        ):
            yield at
            at = text.find(name, end)
        else:
            at = text.find(name, at + 1)


def score_unknown(view: str, sentences: list[Sentence], catalog: Catalog,
                  text: str | None = None, known: list[Mention] | None = None) -> list[Scored]:
    """Every name the catalog lacks that some signal points at, with its score (proposed or
    not: `propose_unknown` keeps those at THRESHOLD or above)."""
    text = view if text is None else text
    known = catalog.find_mentions(view) if known is None else known
    in_known = _Spans((m.start, m.end) for m in known).overlaps
    code = code_spans(view)
    candidates: dict[str, _Candidate] = defaultdict(lambda: _Candidate([], 0.0, set()))
    looked_up: dict[str, CatalogEntry | None] = {}

    def lookup(name: str) -> CatalogEntry | None:  # the same names come up again and again
        if name not in looked_up:
            looked_up[name] = catalog.lookup(name)
        return looked_up[name]

    def in_code(start: int) -> bool:
        return any(a <= start < b for a, b in code)

    def add(name: str | None, start: int, signal: str, weight: float) -> None:
        if not name or start < 0:
            return
        entry = lookup(name)
        if entry is not None and not (entry.code_only or entry.ambiguous):
            return  # the matcher finds it; only a word-like catalog name needs evidence here
        end = start + len(name)
        if in_known(start, end):
            return
        cand = candidates[name]
        if (start, end) not in cand.spans:
            cand.spans.append((start, end))
        assert cand.signals is not None
        if signal not in cand.signals:
            cand.signals.add(signal)
            cand.score += weight

    for match in _NOUN.finditer(view):
        name = _clean(match.group(1))
        if name and not is_common_word(name):
            add(name, match.start(1), "noun", NOUN)
    for matches in (_CUE.finditer(view), _CALLED.finditer(view), _is_a_matches(view)):
        for match in matches:
            name = _clean(match.group(1))
            if name:
                add(name, view.find(name, match.start(1)), "cue", CUE)
    links = _links(text)
    own = _own_account(links)
    for label, offset, url in links:
        if label.strip() == url:  # a bare repository URL in a table of libraries
            repo = _repository(url)
            if repo and re.fullmatch(_ANY_NAME + r"|[a-z][a-z0-9]*", repo):
                add(repo, text.find(repo, offset + len(url) - len(repo) - 1), "repo-url", LINK)
            continue
        name = _clean(label)
        if name and _link_names_it(name, url) and len(name.split()) <= 3:
            if own and _account(url) == own:
                add(name, text.find(name, offset), "own-link", OWN_LINK)
            else:
                add(name, text.find(name, offset), "link", LINK)
    # "Google Custom Search", "Apple News": a vendor that names many catalog products, then
    # capitalised words
    for match in _VENDOR_NAME.finditer(view):
        if match.group(1) in _vendors(catalog):
            name = _clean(match.group(0))
            if name and len(name.split()) >= 2:
                add(name, match.start(), "vendor", VENDOR)
    # short list items whose siblings are catalog tools
    by_block: dict[int, list[Sentence]] = {}
    for s in sentences:
        if s.kind in ("item", "fragment"):
            by_block.setdefault(s.block, []).append(s)
    for items in by_block.values():
        texts = [view[s.start : s.end].strip(" \t-*•+,[]") for s in items]
        n_known = sum(1 for t in texts if t and lookup(t) is not None)
        if len(texts) < 3 or n_known < max(2, len(texts) // 2):
            continue
        for s, t in zip(items, texts, strict=True):
            if re.fullmatch(_ANY_NAME, t) and _clean(t) == t:
                add(t, view.find(t, s.start), "list", LIST)
    # the shape of a product name, and enumerations with catalog tools
    for s in sentences:
        body = view[s.start : s.end]
        for match in _SHAPE.finditer(body):
            name = _clean(match.group(0))
            if name and _shape_ok(name) and not in_code(s.start + match.start()):
                add(name, s.start + match.start(), "shape", SHAPE)
        pieces = _ENUM.split(body)
        if len(pieces) < 3:
            continue
        members = [p.strip(" \t[]()*_`\"'.:;") for p in pieces]
        n_known = sum(1 for p in members if p and lookup(p) is not None)
        if n_known < 2:
            continue
        for member in members:
            if re.fullmatch(_ANY_NAME, member) and _clean(member) == member:
                add(member, s.start + body.find(member), "enum", ENUM)
    out: list[Scored] = []
    for name, cand in candidates.items():
        assert cand.signals is not None
        signals = set(cand.signals)
        score = cand.score
        if len(name.split()) == 1 and name[0].isupper() and not is_common_word(name):
            score += COINED
            signals.add("coined")
        spans = set(cand.spans)
        for at in _standalone(view, name):
            if not in_known(at, at + len(name)):
                spans.add((at, at + len(name)))
        if len(spans) > 1:
            score += REPEAT
            signals.add("repeat")
        entry = lookup(name)
        if entry is not None and not signals & _STRONG:
            continue  # a word-like catalog name needs a link, a cue or a list of tools
        out.append(Scored(name, round(min(score, 1.0), 2), frozenset(signals),
                          tuple(sorted(spans)), entry))
    return out


_DESCRIPTIVE = re.compile(r"[a-z][a-z -]{2,40}")


def repository_mentions(text: str, catalog: Catalog, taken: list[Mention]) -> list[Mention]:
    """Tools named only by the repository a link points at: `[stubbed network
    responses](https://github.com/AliSoftware/OHHTTPStubs)`, or a bare repository URL in a
    table of libraries. The mention is the link's text; the tool is the repository's name
    (its catalog entry where it has one). An own-account repository is left to the rest."""
    in_taken = _Spans((m.start, m.end) for m in taken).overlaps
    links = _links(text)
    own = _own_account(links)
    out: list[Mention] = []
    for label, offset, url in links:
        repo = _repository(url)
        bare = label.strip() == url
        if repo is None or (own and _account(url) == own) or len(repo) < 3:
            continue
        if not bare and (not _descriptive(label) or squash(repo) in squash(label)):
            continue
        end = offset + len(label)
        if in_taken(offset, end):
            continue
        entry = catalog.lookup(repo)
        if entry is None:
            entry = _entry(repo, LINK, frozenset({"repo-url" if bare else "repo-link"}))
        out.append(Mention(offset, end, label, entry))
    return out


def propose_unknown(view: str, sentences: list[Sentence], catalog: Catalog,
                    text: str | None = None,
                    known: list[Mention] | None = None) -> list[Mention]:
    """Mentions of product-like names that the catalog does not know, each carrying its
    score as `entry.popularity` (the recogniser's confidence) and its signals in
    `entry.sources`, and of word-like catalog names ('Quick', `code_only` 'Moya') that a link,
    a cue or a list of tools vouches for. (Proposing weaker names, from 0.3 or 0.45, and
    letting the learned tool model decide on their signals measured worse in
    cross-validation: docs/quality.md.)"""
    text = view if text is None else text
    proposals: list[Mention] = []
    for scored in score_unknown(view, sentences, catalog, text, known):
        if scored.score < THRESHOLD:
            continue
        entry = scored.entry or _entry(scored.name, scored.score, scored.signals)
        proposals.extend(Mention(a, b, text[a:b], entry) for a, b in scored.spans)
    proposals.sort(key=lambda m: m.start)
    return proposals


_CAPITALISED_DESCRIPTION = re.compile(r"[A-Z][a-z]+(?: [a-z][a-z-]*){1,6}")


def _descriptive(label: str) -> bool:
    """Link text that describes rather than names: 'stubbed network responses', 'One library'."""
    label = label.strip()
    return bool(_DESCRIPTIVE.fullmatch(label) or _CAPITALISED_DESCRIPTION.fullmatch(label))


def _url_entries(url: str, catalog: Catalog) -> tuple[list[CatalogEntry], list[CatalogEntry]]:
    """Catalog entries a link target names: (by its host, by its path). The host's labels
    before the public suffix (`oozie.apache.org`: oozie, apache; `matplotlib.org`), or on a
    code host the repository (`github.com/artsy/palette`); the path's first segment elsewhere
    (`joyent.com/triton`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    labels = [label for label in host.split(".")[:-1] if label not in _GENERIC_HOST_LABELS]
    if _PROJECT_HOSTS.search(host):  # the host's own page, else a repository below it
        names_host, names_path = ([] if segments else labels), segments[1:2]
    else:
        names_host, names_path = labels, [_FILE_EXT.sub("", s) for s in segments[:1]]
    by_host: list[CatalogEntry] = []
    by_path: list[CatalogEntry] = []
    for names, out in ((names_host, by_host), (names_path, by_path)):
        for name in names:
            entry = catalog.lookup(name) if len(squash(name)) >= 3 else None
            if entry is not None and entry not in out:
                out.append(entry)
    return by_host, by_path


def link_mentions(text: str, catalog: Catalog, found: list[Mention]
                  ) -> tuple[list[Mention], set[tuple[int, int]]]:
    """What links say about tools: a catalog mention in a link's text whose target is the
    tool's own site or repository (`[Palette](https://github.com/artsy/palette)`, `[Segment
    Warehouses](https://segment.com/warehouses)`) is a product even where the name is a word
    (returned as vouched spans, for the mention filter); link text that spells the target's
    name loosely (`[sci-kit learn](http://scikit-learn.org)`) or only describes it (`[done
    this before](https://cocoapods.org)`) becomes a mention of the target's catalog entry."""
    starts = [m.start for m in found]
    vouched: set[tuple[int, int]] = set()
    out: list[Mention] = []
    for label, offset, url in _links(text):
        if label.strip() == url:
            continue
        by_host, by_path = _url_entries(url, catalog)
        targets = by_host + by_path
        if not targets:
            continue
        end = offset + len(label)
        i = bisect.bisect_left(starts, offset)
        inside = []
        while i < len(found) and found[i].start < end:
            if found[i].end <= end:
                inside.append(found[i])
            i += 1
        if inside:
            # a vendor's name heading a longer label ('[Google Custom Search](google.com)')
            # is the vendor's product, not the vendor
            vendors = _vendors(catalog)
            vouched.update((m.start, m.end) for m in inside if m.entry in targets and (
                (m.start, m.end) == (offset, end) or m.entry.name not in vendors))
            continue
        key = squash(label)
        named = next((e for e in targets if len(key) >= 3 and any(
            _similar(key, squash(s)) for s in e.spellings)), None)
        if named is not None:
            out.append(Mention(offset, end, label, named))
            vouched.add((offset, end))
        elif _descriptive(label):
            entry = next((e for e in by_host if not e.ambiguous and not e.code_only), None)
            if entry is not None:
                out.append(Mention(offset, end, label, entry))
    return out, vouched


LINK_SPELLING = 0.85  # 'ooozie' for oozie (0.91), 'sci-kit learn' for scikit-learn (1.0)


def _similar(a: str, b: str) -> bool:
    """Loosely the same spelling (difflib's ratio: the standard library's, so a one-shot
    command loads no fuzzy-matching extension for it)."""
    if a == b:
        return True
    if 2 * min(len(a), len(b)) < LINK_SPELLING * (len(a) + len(b)):
        return False  # the best ratio the lengths allow is already too low
    return SequenceMatcher(None, a, b).ratio() >= LINK_SPELLING
