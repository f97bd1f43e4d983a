"""Candidate finding: the catalog's mentions and proposed unknown names, in sentences with cues.

Everything the learned decisions read comes from here: the prose view of the text, its
sentences, every mention that reads like a product (catalog names, names the unknown-name
recogniser proposes), and the cue patterns of cues.py that fire on each mention. Nothing here
decides whether a tool is in the stack; the models do (model.py, decide.py).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field

from stackextract.catalog.vocabulary import Catalog, Mention, is_common_word, needs_code
from stackextract.models import Document
from stackextract.offline import cues
from stackextract.offline.prose import code_spans, prose_mask
from stackextract.offline.sentences import Sentence, split
from stackextract.offline.unknown import link_mentions, propose_unknown, repository_mentions


@dataclass
class Hit:
    """One mention with the sentence it sits in and what the sentence says about it."""

    mention: Mention
    sentence: Sentence
    marker: int
    cues: set[str] = field(default_factory=set)


@dataclass
class SentenceInfo:
    sentence: Sentence
    text: str  # original text of the sentence
    skeleton: str
    hits: list[Hit]


# -- mentions ------------------------------------------------------------------------------
_PRODUCT_NOUNS = re.compile(
    r"\s*(?:containers?|images?|channels?|notifications?|clusters?|servers?|cli|api|sdk|"
    r"instances?|workers?|jobs?|pipelines?|dashboards?|queues?|tables?|database|db|app|apps)\b",
    re.I,
)
_CONTINUES_AS_PRODUCT = re.compile(
    r"\s*(?:\(|,|/|is (?:a|an|our|the|used)\b|was (?:a|an|our)\b|has\b|had\b|does\b|"
    r"provides\b|allows\b|lets\b|runs\b|$|\n|:)"
)


def _title_case(sentence_text: str, names: frozenset[str] = frozenset()) -> bool:
    """A headline ('The Great Stack Server'), not a sentence that lists tools: words that are
    other tools' mentions (`names`) do not count towards the capitals."""
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", sentence_text)
             if len(w) > 3 and w.casefold() not in names]
    if len(words) < 3:
        return False
    return sum(1 for w in words if w[0].isupper()) / len(words) >= 0.6


def filter_mentions(mentions: list[Mention], view: str, sentences: list[Sentence],
                     company: str | None,
                     vouched: frozenset[tuple[int, int]] = frozenset()) -> list[Mention]:
    """Drop mentions that are words, identifiers or the author's own company, not tools.

    An ambiguous name ('Snowflake', 'Mode') counts where it reads like a product: mid-sentence
    with its capitals, or at the start of a sentence once the document has used it as a
    product elsewhere, or wherever a link to its own site or repository vouches for it
    (`vouched` spans).
    """
    code = code_spans(view)
    code_starts = [a for a, _ in code]
    starts = [s.start for s in sentences]
    capitalised = {m.entry.name for m in mentions if not m.text.islower()}
    unambiguous = frozenset(w.casefold() for m in mentions if not m.entry.ambiguous
                            for w in re.findall(r"[A-Za-z][\w'-]*", m.text))
    if company:  # "We launched Luma on Vercel and Render": the company is no headline word
        unambiguous |= {w.casefold() for w in re.findall(r"[A-Za-z][\w'-]*", company)}
    kept: list[tuple[Mention, bool]] = []  # (mention, needs the tool established elsewhere)
    for m in mentions:
        if company and m.text.casefold() == company.casefold():
            continue
        if (m.start, m.end) in vouched:
            kept.append((m, False))
            continue
        i = bisect.bisect_right(code_starts, m.start) - 1
        in_code = i >= 0 and code[i][0] <= m.start < code[i][1]
        code_text = view[code[i][0] + 1 : code[i][1] - 1].strip() if in_code else ""
        if in_code and code_text.casefold() != m.text.casefold():
            continue  # an identifier or path inside inline code, e.g. `/tagged/java`
        if not in_code and needs_code(m):
            continue  # a word-like name ('retry', 'Config'): a tool only as `code`
        j = bisect.bisect_right(starts, m.start) - 1
        sentence = sentences[j] if j >= 0 else None
        s_text = view[sentence.start : sentence.end] if sentence else ""
        after = view[m.end : m.end + 40]
        if m.text.islower() and is_common_word(m.text) and not in_code:
            if m.entry.ambiguous:
                continue
            if m.entry.name not in capitalised and not _PRODUCT_NOUNS.match(after):
                continue
        provisional = False
        if m.entry.ambiguous and not in_code:
            if _title_case(s_text, unambiguous) or re.match(r" (?:[A-Z][a-z]|\d{1,4}\b)", after):
                continue  # a title, a longer name ("Stack Server") or a date ("June 2010")
            prefix = view[sentence.start if sentence else 0 : m.start].strip(" \t-*•#>`_[(")
            if not prefix and not _CONTINUES_AS_PRODUCT.match(after):
                provisional = True
        kept.append((m, provisional))
    established = {m.entry.name for m, provisional in kept if not provisional}
    return [m for m, provisional in kept if not provisional or m.entry.name in established]


def sentence_infos(
    text: str, view: str, sentences: list[Sentence], mentions: list[Mention]
) -> list[SentenceInfo]:
    starts = [s.start for s in sentences]
    by_sentence: dict[int, list[Mention]] = defaultdict(list)
    for m in mentions:
        idx = bisect.bisect_right(starts, m.start) - 1
        if idx >= 0 and m.start < sentences[idx].end:
            by_sentence[idx].append(m)
    infos = []
    for idx, sentence in enumerate(sentences):
        found = by_sentence.get(idx, [])
        parts = []
        cursor = sentence.start
        hits = []
        for k, m in enumerate(found):
            parts.append(view[cursor : m.start])
            parts.append(f"<{k}>")
            cursor = m.end
            hits.append(Hit(m, sentence, k))
        parts.append(view[cursor : sentence.end])
        skeleton = " ".join(
            re.sub(r"[\[\]*_`]", "", "".join(parts)).lower().replace("’", "'").split()
        )
        infos.append(SentenceInfo(sentence, text[sentence.start : sentence.end], skeleton, hits))
    return infos


def mark_context(infos: list[SentenceInfo], view: str) -> None:
    """Give each hit its status cues, including list context ('Alternatives:' blocks)."""
    in_alternatives = False
    for info in infos:
        s = info.sentence
        plain = view[s.start : s.end].strip()
        short = len(plain.split()) <= 10 and not re.search(r"[.!?]\s*$", plain)
        if cues.ALTERNATIVES_HEADING.match(plain):
            in_alternatives = True
            continue
        if cues.USE_HEADING.match(plain) or (not short and s.kind == "para") or s.kind == "heading":
            in_alternatives = False
        if not info.hits:
            continue  # no tool in the sentence: no cue to attach (and no regex to run)
        skeleton = info.skeleton
        for name, patterns in (
            ("previous", cues.PREVIOUS_RE),
            ("evaluated", cues.EVALUATED_RE),
            ("planned", cues.PLANNED_RE),
            ("uses", cues.USES_RE),
            ("not_stack", cues.NOT_STACK_RE),
        ):
            for k in cues.marked(patterns, skeleton):
                if k < len(info.hits):
                    info.hits[k].cues.add(name)
        alt = re.search(r"\balternatives?\s*:", skeleton)
        line_start = view.rfind("\n", 0, s.start) + 1
        quoted = view[line_start : s.start + 1].lstrip().startswith(">")
        for hit in info.hits:
            if in_alternatives or quoted or (
                alt and skeleton.find(f"<{hit.marker}>") > alt.start()
            ):
                hit.cues.add("not_stack")
            if "previous" in hit.cues and _version_change(skeleton, hit, info.hits):
                hit.cues.discard("previous")


def _version_change(skeleton: str, hit: Hit, hits: list[Hit]) -> bool:
    """'from Vue 2 to 3', 'from Python 2 to Python 3': an upgrade, not a replacement."""
    match = re.search(
        rf"from\s+<{hit.marker}>\s*(?:v?\d[\w.]*\s+)?to\s+(?:v(?:ersion\s+)?(\d)|(\d)|<(\d+)>)",
        skeleton,
    )
    if not match:
        return False
    if match.group(1) or match.group(2):
        return True
    other = int(match.group(3))
    return other < len(hits) and hits[other].mention.entry.name == hit.mention.entry.name


# -- company ---------------------------------------------------------------------------------
_COMPANY_WORD = r"[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*){0,2}"
_COMPANY_IN_TEXT = [
    re.compile(rf"\b(?:stack|team|engineering|engineers|we|here) at\s+({_COMPANY_WORD})"),
    re.compile(rf"(?:^|\n|: )({_COMPANY_WORD}) is an? (?:[\w-]+\s+){{0,4}}?"
               r"(?:startup|company|platform|business|service)\b"),
]


def company_of(document: Document, view: str = "") -> str | None:
    """The writeup's own company: from metadata, the title, or the opening paragraphs."""
    if document.site_name:
        return document.site_name
    title = document.title or ""
    match = re.search(rf"\b(?:of|at|@)\s+({_COMPANY_WORD})\s*$", title)
    if match:
        return match.group(1)
    match = re.search(rf"\s[\u2013\u2014|-]\s+({_COMPANY_WORD})\s*$", title)
    if match:
        return re.sub(r"\s+(?:AI|Blog|Engineering|Tech)$", "", match.group(1))
    match = re.match(rf"^({_COMPANY_WORD})(?:'s|\u2019s|:)\s", title)
    if match:
        return match.group(1)
    head = " ".join((view or document.text)[:3000].split())
    for pattern in _COMPANY_IN_TEXT:
        match = pattern.search(head)
        if match:
            return match.group(1)
    return None


# 'dockerized', 'Kubernetes-ised': a verb or adjective made from a tool's name
_DERIVED = re.compile(r"(?<![\w.-])([A-Za-z][A-Za-z0-9]{3,}?)-?i[sz](?:ed|ing|ation)\b")


def derived_mentions(view: str, catalog: Catalog, taken: list[Mention]) -> list[Mention]:
    """Mentions of a tool through a word derived from its name ('we dockerized everything'):
    the stem must be a catalog name that is no English word, so 'normalized' is not 'Normal'."""
    spans = [(m.start, m.end) for m in taken]
    out = []
    for match in _DERIVED.finditer(view):
        entry = catalog.lookup(match.group(1))
        if (entry is None or entry.ambiguous or entry.common_word or entry.code_only
                or is_common_word(match.group(1).lower())
                or any(a < match.end() and match.start() < b for a, b in spans)):
            continue
        out.append(Mention(match.start(), match.end(), match.group(0), entry))
    return out


@dataclass
class Candidates:
    """One document's candidate mentions, sentence by sentence."""

    document: Document
    view: str
    sentences: list[Sentence]
    infos: list[SentenceInfo]
    company: str | None
    mentions: list[Mention]

    def hits_by_tool(self) -> dict[str, list[Hit]]:
        """Every mention of each canonical name, in document order."""
        found: dict[str, list[Hit]] = defaultdict(list)
        for info in self.infos:
            for hit in info.hits:
                found[hit.mention.entry.name].append(hit)
        return dict(found)


def find_candidates(document: Document, catalog: Catalog, *, unknown: bool = True) -> Candidates:
    """The mentions of `document` that read like products, with the cues around each."""
    text = document.text
    view = prose_mask(text)
    sentences = split(view)
    company = company_of(document, view)
    everything = catalog.find_mentions(view)
    linked, vouched = link_mentions(text, catalog, everything) if unknown else ([], set())
    mentions = filter_mentions(everything, view, sentences, company, frozenset(vouched))
    derived = derived_mentions(view, catalog, mentions)
    if unknown:
        derived += [m for m in linked if not (company and m.text.casefold() == company.casefold())]
        derived += repository_mentions(text, catalog, [*mentions, *linked])
    if derived:
        mentions = sorted([*mentions, *derived], key=lambda m: m.start)
    if unknown:
        known = {(m.start, m.end) for m in mentions}
        mentions += [
            m for m in propose_unknown(view, sentences, catalog, text, mentions)
            if not any(a <= m.start < b for a, b in known)
            and not (company and m.text.casefold() == company.casefold())
        ]
        mentions.sort(key=lambda m: m.start)
    infos = sentence_infos(text, view, sentences, mentions)
    mark_context(infos, view)
    return Candidates(document, view, sentences, infos, company, mentions)
