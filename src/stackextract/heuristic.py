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

from . import __version__, cues
from .catalog import Catalog, CatalogEntry, Mention
from .models import (
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
)
from .prose import prose_mask
from .sentences import Sentence, split
from .unknown import propose_unknown

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
        from .extractors import config_hash

        return config_hash(backend=self.name, model=f"heuristic-{__version__}",
                           prompt_version=None)

    async def aextract(self, document: Document) -> Stack:
        return self.extract(document)

    def extract(self, document: Document) -> Stack:
        started = time.perf_counter()
        text = document.text
        view = prose_mask(text)
        sentences = split(view)
        mentions = [m for m in self.catalog.find_mentions(view) if _plausible(m, view)]
        if self.propose_unknown:
            known = {(m.start, m.end) for m in mentions}
            mentions += [
                m for m in propose_unknown(view, sentences, self.catalog)
                if not any(a <= m.start < b for a, b in known)
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
            company=_company(document),
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
def _plausible(mention: Mention, view: str) -> bool:
    """Ambiguous names ('Mode', 'Render', 'Go') need to look like a product where they stand."""
    if not mention.entry.ambiguous:
        return True
    before = view[max(0, mention.start - 3) : mention.start]
    line_start = view.rfind("\n", 0, mention.start) + 1
    prefix = view[line_start : mention.start].strip(" \t-*•#>`_")
    at_sentence_start = not prefix or bool(re.search(r"[.!?:]\s*$", before))
    if at_sentence_start:
        after = view[mention.end : mention.end + 40]
        # at the start of a sentence only a product-like continuation counts
        return bool(
            re.match(r"\s*(?:\(|,|is (?:a|an|our|the)\b|was (?:a|an|our)\b|$|\n|:)", after)
            or not prefix and re.match(r"\s*(?:,|\n|$)", after)
        )
    return True


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
        skeleton = " ".join("".join(parts).lower().replace("’", "'").split())
        infos.append(_SentenceInfo(sentence, text[sentence.start : sentence.end], skeleton, hits))
    return infos


def _mark_context(infos: list[_SentenceInfo], view: str) -> None:
    """Give each hit its status cues, including list context ('Alternatives:' blocks)."""
    in_alternatives = False
    for info in infos:
        s = info.sentence
        plain = view[s.start : s.end].strip()
        short = len(plain.split()) <= 8 and s.kind in ("fragment", "item", "heading", "row")
        if cues.ALTERNATIVES_HEADING.match(plain):
            in_alternatives = True
            continue
        if cues.USE_HEADING.match(plain) or (not short and s.kind == "para") or s.kind == "heading":
            in_alternatives = False
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
        for hit in info.hits:
            if in_alternatives or (alt and skeleton.find(f"<{hit.marker}>") > alt.start()):
                hit.cues.add("not_stack")


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
def _subject(info: _SentenceInfo, previous: _SentenceInfo | None, tools: dict[str, Tool],
             topic: str | None) -> list[str]:
    names = [h.mention.entry.name for h in info.hits if h.mention.entry.name in tools]
    if names:
        return list(dict.fromkeys(names))
    if topic and (_PRONOUN_START.match(info.text) or (previous and previous.hits)):
        return [topic]
    return []


def _opinions(
    infos: list[_SentenceInfo], tools: dict[str, Tool]
) -> tuple[list[Reason], list[Regret]]:
    reasons: list[Reason] = []
    regrets: list[Regret] = []
    topic: str | None = None
    block = -1
    previous: _SentenceInfo | None = None
    for info in infos:
        if info.sentence.block != block:
            block = info.sentence.block
            topic = None if info.sentence.kind != "item" else topic
        subjects = _subject(info, previous, tools, topic)
        known_hits = [h for h in info.hits if h.mention.entry.name in tools]
        if known_hits:
            topic = known_hits[0].mention.entry.name
        previous = info
        if not subjects or info.sentence.kind in ("heading", "fragment"):
            continue
        text = info.text
        lowered = text.lower().replace("’", "'")
        regret_score = len(cues.REGRET_CUES.findall(lowered)) - 2 * len(
            cues.NEGATION_OF_PROBLEM.findall(lowered)
        )
        strong = bool(cues.STRONG_REGRET.search(lowered))
        reason_score = len(cues.REASON_CUES.findall(lowered))
        quote = _quote(info)
        if strong or (regret_score > 0 and regret_score >= reason_score):
            would = _would_instead(info)
            target = subjects[:1] if not strong else subjects[:2]
            for name in target:
                if would == name:
                    continue
                regrets.append(Regret(
                    tool=name, text=_summary(text), would_instead=would,
                    confidence=0.75 if strong else 0.6,
                    evidence=[Evidence(quote=quote)],
                ))
        elif reason_score > 0 and len(text.split()) >= 5:
            for name in subjects[:1]:
                if tools[name].status not in (Status.uses, Status.planned):
                    continue
                reasons.append(Reason(
                    tool=name, text=_summary(text),
                    confidence=min(0.9, 0.5 + 0.1 * reason_score),
                    evidence=[Evidence(quote=quote)],
                ))
    return reasons, regrets


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
            candidates = [
                h for idx, h in reversed(recent)
                if idx >= info.sentence.index - 4
                and h.mention.entry.name != dst
                and h.mention.entry.name in tools
                and tools[h.mention.entry.name].category == category
                and category is not Category.other
            ]
            candidates += [
                h for h in info.hits[: int(match.group(1))]
                if h.mention.entry.name != dst and h.mention.entry.name in tools
                and tools[h.mention.entry.name].category == category
            ]
            if candidates:
                add(candidates[-1].mention.entry.name if candidates[-1] in info.hits
                    else candidates[0].mention.entry.name, dst, info, 0.6)
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
def _company(document: Document) -> str | None:
    if document.site_name:
        return document.site_name
    title = document.title or ""
    match = re.search(r"\b(?:of|at|@)\s+([A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*){0,2})\s*$", title)
    if match:
        return match.group(1)
    match = re.match(r"^([A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*){0,2})(?:'s|’s|:)\s", title)
    if match:
        return match.group(1)
    return None
