"""Features for the learned decisions: what the text says around each candidate.

Every feature is a string (a present word or a fired cue) with a value. The mention's own
name never becomes a feature: the sentence skeleton puts `<t>` where the tool stands and
`<o>` where another tool stands, so the models learn from context words, cue patterns,
headings, tense and modal words, negation, list/table context, position, how often and how
the document names the tool, and its catalog category, and carry over to unseen blogs.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from stackextract.catalog.vocabulary import CatalogEntry, common_words
from stackextract.offline import cues
from stackextract.offline.candidates import Candidates, Hit, SentenceInfo

Features = dict[str, float]

_TOKEN = re.compile(r"<\d+>|[a-z][a-z'+#.-]*[a-z+#]|[a-z]|\d+")
_NEGATION = {"not", "no", "never", "without", "n't", "don't", "didn't", "doesn't", "isn't",
             "wasn't", "weren't", "aren't", "won't", "wouldn't", "can't", "couldn't", "nor"}
_MIGRATION_PATTERNS = {
    "from_to": cues.MIGRATION_FROM_TO,
    "replaced_with": cues.MIGRATION_REPLACED_WITH,
    "replaced_by": cues.MIGRATION_REPLACED_BY,
    "paren": cues.MIGRATION_PAREN,
    "then": cues.MIGRATION_THEN,
    "legacy": cues.MIGRATION_LEGACY,
    "instead": cues.MIGRATION_INSTEAD,
}
WINDOW = 6


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    return sum(1 for e in edges if value >= e)


def tokens(skeleton: str, marker: int | None = None) -> list[str]:
    """Skeleton tokens with `<t>` for the tool `marker` and `<o>` for any other tool."""
    return list(_tokens(skeleton, marker))


def clear_token_cache() -> None:
    _tokens.cache_clear()


@lru_cache(maxsize=8192)
def _tokens(skeleton: str, marker: int | None) -> tuple[str, ...]:
    out = []
    for tok in _TOKEN.findall(skeleton):
        if tok.startswith("<"):
            tok = "<t>" if marker is not None and tok == f"<{marker}>" else "<o>"
        elif tok.isdigit():
            tok = "<num>"
        out.append(tok)
    return tuple(out)


@dataclass
class Context:
    """Per-document lookups shared by every feature function."""

    found: Candidates
    heading_of: dict[int, SentenceInfo | None]  # sentence index -> the heading above it
    length: int


def context(found: Candidates) -> Context:
    heading: SentenceInfo | None = None
    heading_of: dict[int, SentenceInfo | None] = {}
    for info in found.infos:
        if info.sentence.kind == "heading":
            heading = info
        heading_of[info.sentence.index] = heading
    return Context(found, heading_of, max(1, len(found.document.text)))


def _heading_words(ctx: Context, info: SentenceInfo) -> list[str]:
    head = ctx.heading_of.get(info.sentence.index)
    if head is None or head is info:
        return []
    return sorted(set(tokens(head.skeleton)))


def _shape(text: str) -> str:
    if text.islower():
        return "lower"
    if text.isupper():
        return "upper"
    if text[:1].isupper() and text[1:].islower():
        return "title"
    return "mixed"


def _add(f: Features, key: str, value: float = 1.0) -> None:
    f[key] = f.get(key, 0.0) + value


def _hit_features(ctx: Context, info: SentenceInfo, hit: Hit, f: Features) -> None:
    toks = tokens(info.skeleton, hit.marker)
    pos = toks.index("<t>") if "<t>" in toks else 0
    for d in (1, 2, 3):
        if pos - d >= 0:
            _add(f, f"L{d}={toks[pos - d]}")
        if pos + d < len(toks):
            _add(f, f"R{d}={toks[pos + d]}")
    if pos == 0:
        _add(f, "starts_sentence")
    window = toks[max(0, pos - WINDOW) : pos + WINDOW + 1]
    for tok in set(window):
        if tok != "<t>":
            _add(f, f"w={tok}")
    if _NEGATION & set(window):
        _add(f, "negation_near")
    for tok in set(toks):
        _add(f, f"s={tok}")
    for cue in hit.cues:
        _add(f, f"cue={cue}")
    _add(f, f"kind={info.sentence.kind}")
    for word in _heading_words(ctx, info):
        _add(f, f"h={word}")
    text = hit.mention.text
    _add(f, f"shape={_shape(text)}")
    if text != hit.mention.entry.name:
        _add(f, "as_alias")
    view = ctx.found.view
    before = view[max(0, hit.mention.start - 30) : hit.mention.start]
    after = view[hit.mention.end : hit.mention.end + 30]
    if re.search(r"[A-Z][a-z]+\s$", before) and pos > 0:
        _add(f, "after_capitalised_word")  # "Taylor Swift", "Hong Kong"
    if re.match(r"\s[A-Z][a-z]", after):
        _add(f, "before_capitalised_word")
    if re.match(r"\s?\(", after):
        _add(f, "before_paren")
    if "`" in view[max(0, hit.mention.start - 1) : hit.mention.end + 1]:
        _add(f, "in_code")
    if len(info.hits) > 1:
        _add(f, "with_other_tools")
    if cues.USE_HEADING.match(info.text.strip()) or cues.ALTERNATIVES_HEADING.match(
        info.text.strip()
    ):
        _add(f, "in_list_heading")


_REGISTRIES = frozenset({"pypi", "npm", "debian"})


def _entry_features(entry: CatalogEntry, f: Features) -> None:
    """What the catalog build or the recogniser knows of a name, as features: which kinds of
    list it came from and how popular it is, or the recogniser's signals and score."""
    if not entry.known:
        for signal in entry.sources[1:]:
            _add(f, f"signal={signal}")
        _add(f, f"recogniser={_bucket(entry.popularity, (0.4, 0.55, 0.7, 0.85))}")
        return
    sources = set(entry.sources)
    _add(f, f"sources={min(len(sources), 4)}")
    _add(f, f"popularity={_bucket(entry.popularity, (0.2, 0.4, 0.6, 0.8))}")
    if "curated" in sources:
        _add(f, "curated")
    if sources and sources <= _REGISTRIES:
        _add(f, "registry_only")
    if entry.common_word:
        _add(f, "common_word")
    if entry.code_only:
        _add(f, "code_only")


def tool_features(ctx: Context, hits: list[Hit]) -> Features:
    """Features of one candidate tool, summed over all its mentions (log-scaled)."""
    f: Features = {}
    entry = hits[0].mention.entry
    _add(f, f"cat={entry.category.value}")
    _add(f, "known" if entry.known else "unknown")
    _entry_features(entry, f)
    if entry.ambiguous:
        _add(f, "ambiguous")
    if entry.generic:
        _add(f, "generic")
    if entry.known and any(w in common_words() for w in entry.name.lower().split()):
        _add(f, "common_word_name")
    for hit in hits:
        info = ctx.found.infos[hit.sentence.index]
        _hit_features(ctx, info, hit, f)
    f = {k: math.log1p(v) for k, v in f.items()}
    n = len(hits)
    f[f"mentions={min(n, 6)}"] = 1.0
    f["log_mentions"] = math.log1p(n)
    f[f"first_at={_bucket(hits[0].mention.start / ctx.length, (0.1, 0.3, 0.6, 0.9))}"] = 1.0
    sentences = {h.sentence.index for h in hits}
    f[f"sentences={min(len(sentences), 5)}"] = 1.0
    shapes = {_shape(h.mention.text) for h in hits}
    if len(shapes) == 1 and "lower" in shapes:
        f["only_lowercase"] = 1.0
    title = (ctx.found.document.title or "").casefold()
    if title and any(h.mention.text.casefold() in title for h in hits):
        f["in_title"] = 1.0
    if entry.ambiguous and "only_lowercase" in f:
        f["ambiguous_lowercase"] = 1.0
    return f


# -- opinions ------------------------------------------------------------------------------
PRONOUN_START = re.compile(
    r"^\W*(?:it|its|it's|it’s|this|they|that|these|the (?:tool|library|framework|service|"
    r"platform|database|product))\b",
    re.I,
)


@dataclass
class OpinionCandidate:
    """A sentence and a tool it may be about: named in it, carried from a sentence before,
    named in the heading (or title line) above it, or named in the document's title."""

    info: SentenceInfo
    tool: str
    carried: bool
    features: Features
    source: str = "named"  # named | carried | heading | title


def _title_tools(ctx: Context, tools: set[str]) -> list[str]:
    title = (ctx.found.document.title or "").casefold()
    if not title:
        return []
    return sorted(name for name, hits in ctx.found.hits_by_tool().items()
                  if name in tools and any(h.mention.text.casefold() in title for h in hits))


def opinion_candidates(ctx: Context, tools: set[str]) -> list[OpinionCandidate]:
    """(sentence, tool) pairs for the reason and regret models, among the tools in `tools`.

    Gold opinions often leave the tool to the context ("It was easy to pick up." under a
    heading naming it, in a writeup about it), so besides the tools a sentence names it is
    paired with the tools of the sentence before, of its heading and of the page title; the
    models learn how far to trust each source (the `src=` features).
    """
    out: list[OpinionCandidate] = []
    topic: list[str] = []
    topic_block = -1
    age = 0
    heading: list[str] = []
    title = _title_tools(ctx, tools)
    mentions = {name: len(hits) for name, hits in ctx.found.hits_by_tool().items()}
    top = max(mentions.values(), default=0)
    for info in ctx.found.infos:
        kind = info.sentence.kind
        named = list(dict.fromkeys(h.mention.entry.name for h in info.hits
                                   if h.mention.entry.name in tools))
        if kind == "heading":
            topic, age, heading = [], 0, named
            continue
        if kind == "fragment" and named:
            heading = named
        pairs: dict[str, str] = {n: "named" for n in named}
        if not named and topic and age <= 2 and (
            info.sentence.block == topic_block
            or (info.sentence.block == topic_block + 1 and PRONOUN_START.match(info.text))
        ):
            for n in topic[:2]:
                pairs.setdefault(n, "carried")
        for n in heading[:3]:
            pairs.setdefault(n, "heading")
        for n in title[:3]:
            pairs.setdefault(n, "title")
        if named:
            topic, age, topic_block = named, 0, info.sentence.block
        else:
            age += 1
        if not pairs or len(info.text.split()) < 3 or kind == "fragment":
            continue
        base = _sentence_features(ctx, info)
        for name, source in pairs.items():
            carried = source != "named"
            f = dict(base)
            hit = next((h for h in info.hits if h.mention.entry.name == name), None)
            f["carried" if carried else "named"] = 1.0
            f[f"src={source}"] = 1.0
            f[f"src={source}_named={min(len(named), 2)}"] = 1.0
            if name in heading:
                f["in_heading"] = 1.0
            if name in title:
                f["in_title"] = 1.0
            count = mentions.get(name, 0)
            f[f"tool_mentions={_bucket(count, (2, 4, 8, 16))}"] = 1.0
            if count == top:
                f["most_mentioned"] = 1.0
            if carried:
                f[f"age={min(age, 4)}"] = 1.0
                if PRONOUN_START.match(info.text):
                    f["pronoun_start"] = 1.0
                    f[f"pronoun_start_{source}"] = 1.0
                for tok in set(tokens(info.skeleton)):
                    f[f"c={tok}"] = 1.0
            if hit is not None:
                toks = tokens(info.skeleton, hit.marker)
                pos = toks.index("<t>") if "<t>" in toks else 0
                f[f"tpos={_bucket(pos / max(1, len(toks)), (0.2, 0.5, 0.8))}"] = 1.0
                if named[0] == name:
                    f["first_tool"] = 1.0
                split = cues.CONTRAST.search(info.skeleton)
                if split:
                    where = info.skeleton.find(f"<{hit.marker}>")
                    after = where > split.start()
                    f["tool_after_contrast" if after else "tool_before_contrast"] = 1.0
                    # the opinion of the tool's own clause ("A is fast, but B is clunky")
                    clause = (info.skeleton[split.end():] if after
                              else info.skeleton[: split.start()])
                    _lexicon_features(tokens(clause), f, "clause_")
                for cue in hit.cues:
                    f[f"cue={cue}"] = 1.0
                window = toks[max(0, pos - WINDOW) : pos + WINDOW + 1]
                for tok in set(window):
                    f[f"w={tok}"] = 1.0
                _lexicon_features(window, f, "near_")
                for tok in set(toks):
                    f[f"t={tok}"] = 1.0
            out.append(OpinionCandidate(info, name, carried, f, source))
    return out


@lru_cache(maxsize=1)
def opinion_words() -> dict[str, float]:
    """General opinion words and their valence (data/opinion_words.tsv, from VADER): word
    classes that carry over to blogs whose words the 35 writeups never used."""
    text = resources.files("stackextract").joinpath("data/opinion_words.tsv").read_text("utf-8")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            word, value = line.split("\t")
            out[word] = float(value)
    return out


def _lexicon_features(toks: list[str], f: Features, prefix: str = "") -> None:
    words = opinion_words()
    pos = neg = 0
    total = 0.0
    for i, tok in enumerate(toks):
        value = words.get(tok.replace("\u2019", "'"))
        if value is None:
            continue
        if _NEGATION & set(toks[max(0, i - 3) : i]):
            value = -value * 0.7
            f[f"{prefix}negated_{'pos' if value < 0 else 'neg'}"] = 1.0
        total += value
        if value > 0:
            pos += 1
        else:
            neg += 1
    f[f"{prefix}lex_pos={min(pos, 3)}"] = 1.0
    f[f"{prefix}lex_neg={min(neg, 3)}"] = 1.0
    f[f"{prefix}lex_sum={_bucket(total, (-4, -1.5, -0.01, 0.01, 1.5, 4))}"] = 1.0
    if pos and neg:
        f[f"{prefix}lex_mixed"] = 1.0


def _sentence_features(ctx: Context, info: SentenceInfo) -> Features:
    f: Features = {}
    lowered = info.text.lower().replace("\u2019", "'")
    is_reason, is_regret, strong = cues.judge(info.text)
    if is_reason:
        f["rule_reason"] = 1.0
    if is_regret:
        f["rule_regret"] = 1.0
    if strong:
        f["rule_strong_regret"] = 1.0
    reason, regret = cues.part_scores(cues.NEGATED_PRAISE.sub(" a pain ", lowered))
    f["reason_score"] = math.log1p(max(0.0, reason))
    f["regret_score"] = math.log1p(max(0.0, regret))
    if cues.CONTRAST.search(lowered):
        f["contrast"] = 1.0
    if cues.HEARSAY.search(lowered):
        f["hearsay"] = 1.0
    if cues.WOULD_INSTEAD.search(info.skeleton):
        f["would_instead"] = 1.0
    toks = tokens(info.skeleton)
    _lexicon_features(toks, f)
    for tok in set(toks):
        f[f"s={tok}"] = 1.0
    for a, b in itertools.pairwise(toks):
        f[f"b={a}_{b}"] = 1.0
    f[f"kind={info.sentence.kind}"] = 1.0
    f[f"len={_bucket(len(toks), (6, 12, 25, 45))}"] = 1.0
    f[f"tools={min(len(info.hits), 3)}"] = 1.0
    if info.text.rstrip().endswith(":"):
        f["ends_colon"] = 1.0
    if info.text.rstrip().endswith("?"):
        f["question"] = 1.0
    for word in _heading_words(ctx, info):
        f[f"h={word}"] = 1.0
    return f


# -- migrations ----------------------------------------------------------------------------
@dataclass
class MigrationCandidate:
    """An ordered pair (from, to) of tools with the sentences that name both."""

    source: str
    target: str
    infos: list[SentenceInfo]
    features: Features


def _pattern_pairs(info: SentenceInfo) -> dict[tuple[int, int], set[str]]:
    """(from marker, to marker) -> the names of the migration patterns that say so."""
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    sk = info.skeleton
    for name, pattern in _MIGRATION_PATTERNS.items():
        for match in pattern.finditer(sk):
            span = match.group("pair") if "pair" in pattern.groupindex else match.group(0)
            markers = [int(k) for k in re.findall(r"<(\d+)>", span)]
            if len(markers) < 2:
                continue
            if name in ("paren", "instead"):
                found[(markers[-1], markers[0])].add(name)
            elif name == "from_to":
                for m in markers[:-1]:
                    found[(m, markers[-1])].add(name)
            else:
                found[(markers[0], markers[-1])].add(name)
    return found


def migration_candidates(ctx: Context, tools: dict[str, list[Hit]]) -> list[MigrationCandidate]:
    """Ordered pairs of candidate tools named in one sentence, or a 'moved to B' sentence and
    a same-category tool of the few sentences before it."""
    pairs: dict[tuple[str, str], MigrationCandidate] = {}

    def add(src: str, dst: str, info: SentenceInfo, f: Features) -> None:
        if src == dst or src not in tools or dst not in tools:
            return
        cand = pairs.get((src, dst))
        if cand is None:
            cand = pairs[(src, dst)] = MigrationCandidate(src, dst, [], {})
        if info not in cand.infos:
            cand.infos.append(info)
        for k, v in f.items():
            cand.features[k] = max(cand.features.get(k, 0.0), v)

    recent: list[tuple[int, Hit]] = []
    for info in ctx.found.infos:
        hits = info.hits
        by_pattern = _pattern_pairs(info) if len(hits) >= 2 else {}
        migration_verb = bool(cues.MIGRATION_VERB.search(info.skeleton))
        sent_toks = set(tokens(info.skeleton))
        for i, a in enumerate(hits):
            for j, b in enumerate(hits):
                if i == j or a.mention.entry.name == b.mention.entry.name or abs(i - j) > 4:
                    continue
                f: Features = {"same_sentence": 1.0}
                for name in by_pattern.get((i, j), ()):
                    f[f"pat={name}"] = 1.0
                for name in by_pattern.get((j, i), ()):
                    f[f"rev={name}"] = 1.0
                f["a_first" if i < j else "b_first"] = 1.0
                lo, hi = sorted((i, j))
                between = info.skeleton[info.skeleton.find(f"<{lo}>") :
                                        info.skeleton.find(f"<{hi}>")]
                for tok in set(tokens(between)[1:]):
                    f[f"between={tok}"] = 1.0
                toks = tokens(info.skeleton, i)
                pa = toks.index("<t>") if "<t>" in toks else 0
                for d in (1, 2):
                    if pa - d >= 0:
                        f[f"before_a={toks[pa - d]}"] = 1.0
                toks_b = tokens(info.skeleton, j)
                pb = toks_b.index("<t>") if "<t>" in toks_b else 0
                for d in (1, 2):
                    if pb - d >= 0:
                        f[f"before_b={toks_b[pb - d]}"] = 1.0
                if migration_verb:
                    f["migration_verb"] = 1.0
                for tok in sent_toks:
                    f[f"s={tok}"] = 1.0
                _pair_features(a, b, f)
                add(a.mention.entry.name, b.mention.entry.name, info, f)
        for match in cues.MIGRATION_TO_ONLY.finditer(info.skeleton):
            k = int(cues.to_only_marker(match))
            if k >= len(hits):
                continue
            dst = hits[k]
            earlier = [h for idx, h in reversed(recent) if idx >= info.sentence.index - 4
                       and h.mention.entry.category == dst.mention.entry.category
                       and h.mention.entry.name != dst.mention.entry.name]
            for h in earlier[:2]:
                f = {"remote": 1.0, "pat=to_only": 1.0}
                for tok in sent_toks:
                    f[f"s={tok}"] = 1.0
                _pair_features(h, dst, f)
                add(h.mention.entry.name, dst.mention.entry.name, info, f)
        # a tool named a sentence or two before: "We started with A. ... B replaced it."
        for b in hits:
            for idx, a in recent:
                if idx < info.sentence.index - 2 or a.mention.entry.name == b.mention.entry.name:
                    continue
                same = a.mention.entry.category == b.mention.entry.category
                if not (same or "previous" in a.cues or "previous" in b.cues):
                    continue
                for x, y, direction in ((a, b, "forward"), (b, a, "backward")):
                    f = {"nearby": 1.0, f"nearby_{direction}": 1.0}
                    if migration_verb:
                        f["nearby_migration_verb"] = 1.0
                    _pair_features(x, y, f)
                    add(x.mention.entry.name, y.mention.entry.name, info, f)
        recent.extend((info.sentence.index, h) for h in hits)
        recent = recent[-30:]
    for (source, target), cand in pairs.items():
        cand.features["log_sentences"] = math.log1p(len(cand.infos))
        for cue in {c for h in tools[source] for c in h.cues}:
            cand.features[f"a_doc_cue={cue}"] = 1.0
        for cue in {c for h in tools[target] for c in h.cues}:
            cand.features[f"b_doc_cue={cue}"] = 1.0
        if (target, source) in pairs:
            cand.features["both_directions"] = 1.0
        first_a = tools[source][0].mention.start
        first_b = tools[target][0].mention.start
        cand.features["a_named_first" if first_a < first_b else "b_named_first"] = 1.0
    return list(pairs.values())


def _pair_features(a: Hit, b: Hit, f: Features) -> None:
    ca, cb = a.mention.entry.category, b.mention.entry.category
    if ca == cb:
        f["same_category"] = 1.0
        f[f"both_cat={ca.value}"] = 1.0
    for cue in a.cues:
        f[f"a_cue={cue}"] = 1.0
    for cue in b.cues:
        f[f"b_cue={cue}"] = 1.0


# -- document relevance ----------------------------------------------------------------------
def document_features(found: Candidates) -> Features:
    """Is this a team's stack writeup? Words (tool names masked to their category) and counts."""
    f: Features = {}
    view = found.view
    pieces = []
    cursor = 0
    for m in found.mentions:
        pieces.append(view[cursor : m.start])
        pieces.append(f" cat_{m.entry.category.value} ")
        cursor = m.end
    pieces.append(view[cursor:])
    words = re.findall(r"[a-z][a-z'_-]*[a-z]|[a-z]", "".join(pieces).lower())
    n_words = max(1, len(words))
    for w in set(words):
        f[f"w={w}"] = 1.0
    common = common_words()
    english = sum(1 for w in words if w in common) / n_words
    f[f"english={_bucket(english, (0.2, 0.4, 0.55, 0.7))}"] = 1.0
    hits = [h for info in found.infos for h in info.hits]
    names = {h.mention.entry.name for h in hits}
    known = {h.mention.entry.name for h in hits if h.mention.entry.known}
    f["log_tools"] = math.log1p(len(names))
    f["log_known"] = math.log1p(len(known))
    f[f"density={_bucket(1000 * len(hits) / n_words, (2, 5, 10, 20, 40))}"] = 1.0
    cue_counts: dict[str, int] = defaultdict(int)
    for h in hits:
        for c in h.cues:
            cue_counts[c] += 1
    for c, v in cue_counts.items():
        f[f"cue={c}"] = math.log1p(v)
    we = sum(1 for w in words if w in ("we", "our", "us", "we're", "we've"))
    f[f"we={_bucket(1000 * we / n_words, (2, 5, 10, 20))}"] = 1.0
    f[f"length={_bucket(n_words, (200, 500, 1000, 3000))}"] = 1.0
    return f
