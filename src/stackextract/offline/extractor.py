"""The offline extractor: catalog matching plus sentence-level cues. No network, no key.

Deterministic and fast enough for batch jobs over tens of thousands of pages. It reads the
prose view of the text (see prose.py), finds catalog tools, decides each tool's status from
the sentences that mention it, and picks reasons, regrets and migrations from cue phrases.
"""

from __future__ import annotations

import bisect
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

from stackextract._version import __version__
from stackextract.catalog.vocabulary import (
    Catalog,
    CatalogEntry,
    Mention,
    is_common_word,
    needs_code,
)
from stackextract.models import (
    Category,
    Document,
    Evidence,
    Migration,
    Provenance,
    Reason,
    Regret,
    Stack,
    Status,
    Tool,
    config_hash,
)
from stackextract.offline import cues
from stackextract.offline.prose import code_spans, prose_mask
from stackextract.offline.sentences import Sentence, split
from stackextract.offline.unknown import propose_unknown

MAX_QUOTE = 400
_PRONOUN_START = re.compile(
    r"^\W*(?:it|its|it's|it’s|this|they|that|these|the (?:tool|library|framework|service|"
    r"platform|database|product))\b",
    re.I,
)


@dataclass
class _Hit:
    """One mention with the sentence it sits in and what the sentence says about it."""

    mention: Mention
    sentence: Sentence
    marker: int
    cues: set[str] = field(default_factory=set)


@dataclass
class _SentenceInfo:
    sentence: Sentence
    text: str  # original text of the sentence
    skeleton: str
    hits: list[_Hit]


class HeuristicExtractor:
    """Rule-based extraction against the tool catalog (the `offline` backend)."""

    name = "offline"

    def __init__(self, *, catalog: Catalog | None = None, propose_unknown: bool = True) -> None:
        self.catalog = catalog or Catalog.default()
        self.propose_unknown = propose_unknown

    def config_key(self) -> str:
        return config_hash(backend=self.name, model=f"heuristic-{__version__}",
                           prompt_version=None)

    async def aextract(self, document: Document) -> Stack:
        return self.extract(document)

    def extract(self, document: Document) -> Stack:
        started = time.perf_counter()
        text = document.text
        view = prose_mask(text)
        sentences = split(view)
        company = _company(document, view)
        mentions = _filter_mentions(self.catalog.find_mentions(view), view, sentences, company)
        if self.propose_unknown:
            known = {(m.start, m.end) for m in mentions}
            mentions += [
                m for m in propose_unknown(view, sentences, self.catalog, text, mentions)
                if not any(a <= m.start < b for a, b in known)
                and not (company and m.text.casefold() == company.casefold())
            ]
            mentions.sort(key=lambda m: m.start)
        infos = _sentence_infos(text, view, sentences, mentions)
        _mark_context(infos, view)
        tools = _tools(infos)
        reasons, regrets = _opinions(infos, tools)
        migrations = _migrations(infos, tools)
        _apply_migration_statuses(tools, migrations)
        stack = Stack(
            source=document.to_source(),
            company=company,
            tools=list(tools.values()),
            reasons=reasons,
            regrets=regrets,
            migrations=migrations,
            provenance=Provenance(
                backend=self.name,
                model=f"heuristic-{__version__}",
                stackextract_version=__version__,
                duration_s=round(time.perf_counter() - started, 4),
            ),
        )
        return stack


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


def _title_case(sentence_text: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", sentence_text) if len(w) > 3]
    if len(words) < 3:
        return False
    return sum(1 for w in words if w[0].isupper()) / len(words) >= 0.6


def _filter_mentions(mentions: list[Mention], view: str, sentences: list[Sentence],
                     company: str | None) -> list[Mention]:
    """Drop mentions that are words, identifiers or the author's own company, not tools.

    An ambiguous name ('Snowflake', 'Mode') counts where it reads like a product: mid-sentence
    with its capitals, or at the start of a sentence once the document has used it as a
    product elsewhere.
    """
    code = code_spans(view)
    code_starts = [a for a, _ in code]
    starts = [s.start for s in sentences]
    capitalised = {m.entry.name for m in mentions if not m.text.islower()}
    kept: list[tuple[Mention, bool]] = []  # (mention, needs the tool established elsewhere)
    for m in mentions:
        if company and m.text.casefold() == company.casefold():
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
            if _title_case(s_text) or re.match(r" (?:[A-Z][a-z]|\d{1,4}\b)", after):
                continue  # a title, a longer name ("Stack Server") or a date ("June 2010")
            prefix = view[sentence.start if sentence else 0 : m.start].strip(" \t-*•#>`_[(")
            if not prefix and not _CONTINUES_AS_PRODUCT.match(after):
                provisional = True
        kept.append((m, provisional))
    established = {m.entry.name for m, provisional in kept if not provisional}
    return [m for m, provisional in kept if not provisional or m.entry.name in established]


def _sentence_infos(
    text: str, view: str, sentences: list[Sentence], mentions: list[Mention]
) -> list[_SentenceInfo]:
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
            hits.append(_Hit(m, sentence, k))
        parts.append(view[cursor : sentence.end])
        skeleton = " ".join(
            re.sub(r"[\[\]*_`]", "", "".join(parts)).lower().replace("’", "'").split()
        )
        infos.append(_SentenceInfo(sentence, text[sentence.start : sentence.end], skeleton, hits))
    return infos


def _mark_context(infos: list[_SentenceInfo], view: str) -> None:
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


def _version_change(skeleton: str, hit: _Hit, hits: list[_Hit]) -> bool:
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


# -- tools ---------------------------------------------------------------------------------
def _quote(info: _SentenceInfo) -> str:
    text = info.text.strip()
    if len(text) > MAX_QUOTE:
        text = text[:MAX_QUOTE].rsplit(" ", 1)[0]
    return text


def _status_of(hits: list[_Hit]) -> tuple[Status | None, float]:
    """Decide a tool's status from all its mentions; None means 'not part of the stack'."""
    counts: dict[str, int] = defaultdict(int)
    for hit in hits:
        for cue in hit.cues:
            counts[cue] += 1
    neutral = sum(1 for h in hits if not h.cues)
    if counts["not_stack"] and counts["not_stack"] >= len(hits) - counts["not_stack"] + (
        0 if counts["uses"] == 0 else 1
    ) and not counts["uses"] and not counts["previous"]:
        return None, 0.0
    scored = {
        Status.used_previously: counts["previous"],
        Status.evaluated: counts["evaluated"],
        Status.planned: counts["planned"],
    }
    best, best_count = max(scored.items(), key=lambda kv: kv[1])
    if best_count and best_count >= counts["uses"]:
        # a tool replaced or only weighed is usually talked about a lot: neutral mentions
        # do not outvote an explicit cue, explicit present-tense use does
        return best, 0.85
    confidence = 0.9 if counts["uses"] else (0.8 if neutral else 0.7)
    return Status.uses, confidence


def _tools(infos: list[_SentenceInfo]) -> dict[str, Tool]:
    hits_by_tool: dict[str, list[_Hit]] = defaultdict(list)
    for info in infos:
        for hit in info.hits:
            hits_by_tool[hit.mention.entry.name].append(hit)
    info_by_index = {info.sentence.index: info for info in infos}
    tools: dict[str, Tool] = {}
    for name, hits in hits_by_tool.items():
        status, confidence = _status_of(hits)
        if status is None:
            continue
        entry: CatalogEntry = hits[0].mention.entry
        if entry.ambiguous:
            confidence -= 0.15
        if entry.generic and not any("uses" in h.cues for h in hits):
            confidence = min(confidence, 0.45)
        unknown = not entry.known
        if unknown:
            confidence = min(confidence, 0.55)
        best = sorted(hits, key=lambda h: (not h.cues, h.sentence.index))[:3]
        evidence = [Evidence(quote=_quote(info_by_index[h.sentence.index])) for h in best]
        tools[name] = Tool(
            name=hits[0].mention.text,
            canonical=entry.name,
            category=entry.category,
            status=status,
            confidence=round(max(0.05, min(1.0, confidence)), 2),
            in_catalog=not unknown,
            evidence=evidence,
        )
    return tools


# -- reasons and regrets ---------------------------------------------------------------------
_CONTRAST = re.compile(r"\b(?:but|however|although|though|unfortunately|except)\b", re.I)


def _subject(info: _SentenceInfo, tools: dict[str, Tool], topic: list[str] | None) -> list[str]:
    names = [h.mention.entry.name for h in info.hits if h.mention.entry.name in tools]
    if names:
        return list(dict.fromkeys(names))
    return list(topic or [])


def _migration_targets(info: _SentenceInfo) -> list[str]:
    """The tools a sentence says the team moved to ('from A to B + C' gives [B, C])."""
    match = cues.MIGRATION_FROM_TO.search(info.skeleton)
    if not match:
        return []
    markers = [int(k) for k in re.findall(r"<(\d+)>", match.group(0))]
    tail = re.search(r"(?:to|into|onto|with|for)\s+(?:the\s+|a\s+|an\s+)?((?:<\d+>\s*\+?\s*)+)$",
                     match.group(0))
    if tail:
        markers = [int(k) for k in re.findall(r"<(\d+)>", tail.group(1))]
    return [info.hits[k].mention.entry.name for k in markers if k < len(info.hits)]


def _part_scores(part: str) -> tuple[float, float]:
    negated = len(cues.NEGATION_OF_PROBLEM.findall(part))
    regret = (2 * len(cues.REGRET_STRONG.findall(part)) + len(cues.REGRET_WEAK.findall(part))
              - 3 * negated)
    reason = (2 * len(cues.REASON_STRONG.findall(part)) + len(cues.REASON_WEAK.findall(part))
              + 2 * negated)
    return reason, regret


_HEARSAY = re.compile(
    r"\b(?:it'?s often said|it is often said|supposedly|allegedly|reportedly)\b",
    re.I,
)
_NEGATED_PRAISE = re.compile(
    r"\b(?:not|n't|never|hardly)\s+(?:\w+\s+)?(?:the\s+)?(?:best|great|ideal|good|easy|simple|"
    r"reliable|stable|fast|solid|mature|friendly|happy)\b"
)


def _judge(text: str) -> tuple[bool, bool, bool]:
    """(is a reason, is a regret, strong regret). A 'but' sentence can be both:
    "Some products are clunky but overall the support has been satisfactory."
    """
    lowered = text.lower().replace("\u2019", "'")
    lowered = _NEGATED_PRAISE.sub(" a pain ", lowered)  # "not the best" is a complaint
    strong = bool(cues.STRONG_REGRET.search(lowered))
    parts = _CONTRAST.split(lowered, maxsplit=1)
    if len(parts) == 1:
        reason, regret = _part_scores(lowered)
        is_regret = strong or (regret >= 2 and regret >= reason)
        return (not is_regret and reason >= 2), is_regret, strong
    scored = [_part_scores(p) for p in parts]
    is_regret = strong or any(g >= 2 and g > r for r, g in scored)
    is_reason = any(r >= 2 and r > g for r, g in scored)
    return is_reason, is_regret, strong


_BETTER_THAN = re.compile(
    r"(?:better|faster|cheaper|simpler|easier|more reliable|less)\s+than\s+(?:\w+\s+){0,2}<(\d+)>"
)


def _opinions(
    infos: list[_SentenceInfo], tools: dict[str, Tool]
) -> tuple[list[Reason], list[Regret]]:
    reasons: list[Reason] = []
    regrets: list[Regret] = []
    topic: list[str] | None = None
    topic_age = 0
    topic_block = -1
    for info in infos:
        kind = info.sentence.kind
        if kind == "heading" or (kind == "fragment" and not info.hits):
            topic, topic_age = None, 0
            continue
        carries = topic_age == 0 or bool(_PRONOUN_START.match(info.text)) or (
            len(info.text.split()) <= 8 and topic_age <= 2
        )
        same_place = info.sentence.block == topic_block or (
            info.sentence.block == topic_block + 1 and bool(_PRONOUN_START.match(info.text))
        )
        subjects = _subject(info, tools, topic if carries and same_place else None)
        known_hits = [h for h in info.hits if h.mention.entry.name in tools]
        if known_hits:
            targets = _migration_targets(info)
            topic, topic_age = (targets or [known_hits[0].mention.entry.name]), 0
            topic_block = info.sentence.block
        else:
            topic_age += 1
        text = info.text
        if not subjects or kind == "fragment" or text.rstrip().endswith(":"):
            continue
        if _HEARSAY.search(text):
            continue  # someone else's opinion, not the team's experience
        is_reason, is_regret, strong = _judge(text)
        quote = _quote(info)
        if is_regret and topic and info.hits:
            # "The only drawback is X, but in our Kubernetes cluster it is fine": the complaint
            # comes before the 'but', the tool named after it is not what it is about
            split = _CONTRAST.search(info.skeleton)
            if split and all(info.skeleton.find(f"<{h.marker}>") > split.start()
                             for h in info.hits):
                head = info.skeleton[: split.start()]
                if _part_scores(head)[1] >= 2:
                    subjects = list(topic)
        if is_regret:
            would = _would_instead(info)
            # a regret is about a tool the team has lived with, not one it only weighed
            targets = [n for n in subjects
                       if n != would and tools[n].status is not Status.evaluated]
            if not targets and would and topic:
                targets = [n for n in topic if n != would]  # "I'd prefer Python next time"
            for name in targets[: 2 if strong and not info.hits else 1]:
                regrets.append(Regret(
                    tool=name, text=_summary(text), would_instead=would,
                    confidence=0.75 if strong else 0.6,
                    evidence=[Evidence(quote=quote)],
                ))
        if not is_regret and re.search(r"\b(?:was|were|is|are) (?:much |far )?(?:better|faster|"
                                       r"cheaper|simpler|more reliable)\b", info.skeleton):
            # "We used Datadog APM at first and found Sentry APM was better."
            for hit in info.hits:
                name = hit.mention.entry.name
                if "previous" in hit.cues and name in tools:
                    regrets.append(Regret(tool=name, text=_summary(text), confidence=0.6,
                                          evidence=[Evidence(quote=quote)]))
        for match in _BETTER_THAN.finditer(info.skeleton):
            k = int(match.group(1))
            name = info.hits[k].mention.entry.name if k < len(info.hits) else ""
            if name in tools and tools[name].status is Status.used_previously and not any(
                r.tool == name and r.evidence[0].quote == quote for r in regrets
            ):
                regrets.append(Regret(tool=name, text=_summary(text), confidence=0.6,
                                      evidence=[Evidence(quote=quote)]))
        if is_reason and len(text.split()) >= 2 and _about_subject(info):
            in_use = [n for n in subjects if tools[n].status in (Status.uses, Status.planned)]
            for name in (in_use or subjects)[:1]:
                reasons.append(Reason(
                    tool=name, text=_summary(text), confidence=0.7,
                    evidence=[Evidence(quote=quote)],
                ))
    return reasons, regrets


def _about_subject(info: _SentenceInfo) -> bool:
    """Is the sentence about its first tool (named early), rather than naming it in passing?"""
    if not info.hits:
        return True
    first = info.hits[0].mention.start - info.sentence.start
    length = max(1, info.sentence.end - info.sentence.start)
    return (
        first / length <= 0.5
        or bool(_PRONOUN_START.match(info.text))
        or bool(cues.USES_RE[0].search(info.skeleton))
    )


def _would_instead(info: _SentenceInfo) -> str | None:
    match = cues.WOULD_INSTEAD.search(info.skeleton)
    if not match:
        return None
    index = next((int(g) for g in match.groups() if g is not None), None)
    if index is None or index >= len(info.hits):
        return None
    return info.hits[index].mention.entry.name


def _summary(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"^[\W_]+", "", text)
    return text if len(text) <= 200 else text[:197].rsplit(" ", 1)[0] + "..."


# -- migrations ------------------------------------------------------------------------------
def _migrations(infos: list[_SentenceInfo], tools: dict[str, Tool]) -> list[Migration]:
    found: dict[tuple[str, str], Migration] = {}

    def add(src: str, dst: str, info: _SentenceInfo, confidence: float) -> None:
        if src == dst or src not in tools or dst not in tools:
            return
        if (src, dst) in found:
            return
        found[(src, dst)] = Migration(
            from_tool=src, to_tool=dst, confidence=confidence,
            evidence=[Evidence(quote=_quote(info))],
        )

    def name(info: _SentenceInfo, k: str | int | None) -> str | None:
        if k is None:
            return None
        k = int(k)
        return info.hits[k].mention.entry.name if k < len(info.hits) else None

    recent: list[tuple[int, _Hit]] = []  # (sentence index, hit) of the last few sentences
    for info in infos:
        sk = info.skeleton
        if len(info.hits) >= 2:
            for match in cues.MIGRATION_FROM_TO.finditer(sk):
                markers = [int(k) for k in re.findall(r"<(\d+)>", match.group(0))]
                to_idx = markers[-1]
                from_markers = markers[:-1]
                # "from A to B + C": the last '+' group are targets too
                plus = re.search(r"<(\d+)>\s*\+\s*<(\d+)>$", match.group(0))
                targets = [to_idx]
                if plus:
                    targets = [int(plus.group(1)), int(plus.group(2))]
                    from_markers = [m for m in from_markers if m not in targets]
                for f in from_markers[:1]:
                    for t in targets:
                        add(name(info, f) or "", name(info, t) or "", info, 0.8)
            for pattern in (cues.MIGRATION_REPLACED_WITH, cues.MIGRATION_THEN,
                            cues.MIGRATION_LEGACY):
                for match in pattern.finditer(sk):
                    add(name(info, match.group(1)) or "", name(info, match.group(2)) or "",
                        info, 0.75)
            for pattern in (cues.MIGRATION_REPLACED_BY,):
                for match in pattern.finditer(sk):
                    add(name(info, match.group(1)) or "", name(info, match.group(2)) or "",
                        info, 0.75)
            for pattern in (cues.MIGRATION_PAREN, cues.MIGRATION_INSTEAD):
                for match in pattern.finditer(sk):
                    add(name(info, match.group(2)) or "", name(info, match.group(1)) or "",
                        info, 0.7)
        # "we moved to BigQuery": the source is the nearest earlier tool of the same category
        for match in cues.MIGRATION_TO_ONLY.finditer(sk):
            dst = name(info, match.group(1))
            if not dst or dst not in tools:
                continue
            if any(m.to_tool == dst for m in found.values()):
                continue
            if re.search(r"\bfrom\s+<", sk[: match.end()]):
                continue
            category = tools[dst].category

            def same_category(h: _Hit, dst: str = dst, category: Category = category) -> bool:
                name_ = h.mention.entry.name
                return name_ != dst and name_ in tools and tools[name_].category == category

            # nearest first: earlier in this sentence, else the latest of the previous sentences
            in_sentence = [h for h in info.hits[: int(match.group(1))] if same_category(h)]
            earlier = [h for idx, h in reversed(recent)
                       if idx >= info.sentence.index - 4 and same_category(h)
                       and category is not Category.other]
            source = in_sentence[-1] if in_sentence else (earlier[0] if earlier else None)
            if source is not None:
                add(source.mention.entry.name, dst, info, 0.6)
        recent.extend((info.sentence.index, h) for h in info.hits)
        recent = recent[-30:]
    return list(found.values())


def _apply_migration_statuses(tools: dict[str, Tool], migrations: list[Migration]) -> None:
    """A tool migrated away from (and never migrated to later) was used previously."""
    targets = {m.to_tool for m in migrations}
    for m in migrations:
        src = tools.get(m.from_tool)
        if src is not None and m.from_tool not in targets and src.status is Status.uses:
            tools[m.from_tool] = src.model_copy(update={"status": Status.used_previously})


# -- company ---------------------------------------------------------------------------------
_COMPANY_WORD = r"[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*){0,2}"
_COMPANY_IN_TEXT = [
    re.compile(rf"\b(?:stack|team|engineering|engineers|we|here) at\s+({_COMPANY_WORD})"),
    re.compile(rf"(?:^|\n|: )({_COMPANY_WORD}) is an? (?:[\w-]+\s+){{0,4}}?"
               r"(?:startup|company|platform|business|service)\b"),
]


def _company(document: Document, view: str = "") -> str | None:
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
