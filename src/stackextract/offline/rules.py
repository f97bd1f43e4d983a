"""Today's rule-based decisions, kept for comparison (`RuleExtractor`, backend name `rules`).

The learned extractor (extractor.py) replaced it as the `offline` backend; this one still
runs in benchmarks/extract_speed.py and in docs/quality.md's side-by-side figures, and its
cue scores (`judge`) are features of the learned models.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict

from stackextract._version import __version__
from stackextract.catalog.vocabulary import Catalog, CatalogEntry
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
from stackextract.offline.candidates import Hit, SentenceInfo, find_candidates

MAX_QUOTE = 400
_PRONOUN_START = re.compile(
    r"^\W*(?:it|its|it's|it’s|this|they|that|these|the (?:tool|library|framework|service|"
    r"platform|database|product))\b",
    re.I,
)


class RuleExtractor:
    """Rule-based extraction against the tool catalog (the backend before the learned one)."""

    name = "rules"

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
        found = find_candidates(document, self.catalog, unknown=self.propose_unknown)
        company = found.company
        tools, reasons, regrets, migrations = decide_by_rules(found.infos)
        stack = Stack(
            source=document.to_source(),
            company=company,
            tools=tools,
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


def decide_by_rules(
    infos: list[SentenceInfo],
) -> tuple[list[Tool], list[Reason], list[Regret], list[Migration]]:
    """The rule-based decisions on one document's candidates (also features of the models)."""
    tools = _tools(infos)
    reasons, regrets = _opinions(infos, tools)
    migrations = _migrations(infos, tools)
    _apply_migration_statuses(tools, migrations)
    return list(tools.values()), reasons, regrets, migrations


# -- tools ---------------------------------------------------------------------------------
def _quote(info: SentenceInfo) -> str:
    text = info.text.strip()
    if len(text) > MAX_QUOTE:
        text = text[:MAX_QUOTE].rsplit(" ", 1)[0]
    return text


def _status_of(hits: list[Hit]) -> tuple[Status | None, float]:
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


def _tools(infos: list[SentenceInfo]) -> dict[str, Tool]:
    hits_by_tool: dict[str, list[Hit]] = defaultdict(list)
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
def _subject(info: SentenceInfo, tools: dict[str, Tool], topic: list[str] | None) -> list[str]:
    names = [h.mention.entry.name for h in info.hits if h.mention.entry.name in tools]
    if names:
        return list(dict.fromkeys(names))
    return list(topic or [])


def _migration_targets(info: SentenceInfo) -> list[str]:
    """The tools a sentence says the team moved to ('from A to B + C' gives [B, C])."""
    match = cues.MIGRATION_FROM_TO.search(info.skeleton)
    if not match:
        return []
    markers = [int(k) for k in re.findall(r"<(\d+)>", match.group("pair"))]
    tail = re.search(r"(?:to|into|onto|with|for)\s+(?:the\s+|a\s+|an\s+)?((?:<\d+>\s*\+?\s*)+)$",
                     match.group("pair"))
    if tail:
        markers = [int(k) for k in re.findall(r"<(\d+)>", tail.group(1))]
    return [info.hits[k].mention.entry.name for k in markers if k < len(info.hits)]


_BETTER_THAN = re.compile(
    r"(?:better|faster|cheaper|simpler|easier|more reliable|less)\s+than\s+(?:\w+\s+){0,2}<(\d+)>"
)


def _opinions(
    infos: list[SentenceInfo], tools: dict[str, Tool]
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
        if cues.HEARSAY.search(text):
            continue  # someone else's opinion, not the team's experience
        is_reason, is_regret, strong = cues.judge(text)
        quote = _quote(info)
        if is_regret and topic and info.hits:
            # "The only drawback is X, but in our Kubernetes cluster it is fine": the complaint
            # comes before the 'but', the tool named after it is not what it is about
            split = cues.CONTRAST.search(info.skeleton)
            if split and all(info.skeleton.find(f"<{h.marker}>") > split.start()
                             for h in info.hits):
                head = info.skeleton[: split.start()]
                if cues.part_scores(head)[1] >= 2:
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


def _about_subject(info: SentenceInfo) -> bool:
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


def _would_instead(info: SentenceInfo) -> str | None:
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
def _migrations(infos: list[SentenceInfo], tools: dict[str, Tool]) -> list[Migration]:
    found: dict[tuple[str, str], Migration] = {}

    def add(src: str, dst: str, info: SentenceInfo, confidence: float) -> None:
        if src == dst or src not in tools or dst not in tools:
            return
        if (src, dst) in found:
            return
        found[(src, dst)] = Migration(
            from_tool=src, to_tool=dst, confidence=confidence,
            evidence=[Evidence(quote=_quote(info))],
        )

    def name(info: SentenceInfo, k: str | int | None) -> str | None:
        if k is None:
            return None
        k = int(k)
        return info.hits[k].mention.entry.name if k < len(info.hits) else None

    recent: list[tuple[int, Hit]] = []  # (sentence index, hit) of the last few sentences
    for info in infos:
        sk = info.skeleton
        if len(info.hits) >= 2:
            for match in cues.MIGRATION_FROM_TO.finditer(sk):
                markers = [int(k) for k in re.findall(r"<(\d+)>", match.group("pair"))]
                to_idx = markers[-1]
                from_markers = markers[:-1]
                # "from A to B + C": the last '+' group are targets too
                plus = re.search(r"<(\d+)>\s*\+\s*<(\d+)>$", match.group("pair"))
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
            dst = name(info, cues.to_only_marker(match))
            if not dst or dst not in tools:
                continue
            if any(m.to_tool == dst for m in found.values()):
                continue
            if re.search(r"\bfrom\s+<", sk[: match.end()]):
                continue
            category = tools[dst].category

            def same_category(h: Hit, dst: str = dst, category: Category = category) -> bool:
                name_ = h.mention.entry.name
                return name_ != dst and name_ in tools and tools[name_].category == category

            # nearest first: earlier in this sentence, else the latest of the previous sentences
            at = int(cues.to_only_marker(match))
            in_sentence = [h for h in info.hits[:at] if same_category(h)]
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


