"""Reasons and regrets: which sentences carry one, for which tool, and what they'd pick instead.

The reason and regret models score each (sentence, tool) pair of features.opinion_candidates;
a sentence gives at most one reason and one regret, to its best-scoring tool. In a regret,
the would-instead model scores every other tool the sentence names. `purpose` is read from
the words the text puts right after a tool it uses ("Postgres as an indexing layer").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stackextract.models import Evidence, Reason, Regret
from stackextract.offline import cues
from stackextract.offline.candidates import Hit, SentenceInfo
from stackextract.offline.features import (
    PRONOUN_START,
    Context,
    Features,
    OpinionCandidate,
    tokens,
)
from stackextract.offline.model import OfflineModel

MAX_QUOTE = 400


def quote(info: SentenceInfo) -> str:
    text = info.text.strip()
    if len(text) > MAX_QUOTE:
        text = text[:MAX_QUOTE].rsplit(" ", 1)[0]
    return text


def summary(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"^[\W_]+", "", text)
    return text if len(text) <= 200 else text[:197].rsplit(" ", 1)[0] + "..."


def would_instead_candidates(info: SentenceInfo, target: str) -> list[tuple[Hit, Features]]:
    """The other tools a regret sentence names, each with features of where it stands."""
    marked = cues.marked([cues.WOULD_INSTEAD], info.skeleton, chains=False)
    out = []
    seen: set[str] = set()
    for hit in info.hits:
        name = hit.mention.entry.name
        if name == target or name in seen:
            continue
        seen.add(name)
        toks = tokens(info.skeleton, hit.marker)
        pos = toks.index("<t>") if "<t>" in toks else 0
        f: Features = {"bias_other": 1.0}
        if hit.marker in marked:
            f["would_instead_cue"] = 1.0
        for d in (1, 2, 3):
            if pos - d >= 0:
                f[f"L{d}={toks[pos - d]}"] = 1.0
        for tok in set(toks[max(0, pos - 6) : pos]):
            f[f"before={tok}"] = 1.0
        for cue in hit.cues:
            f[f"cue={cue}"] = 1.0
        target_at = next((h.marker for h in info.hits if h.mention.entry.name == target), None)
        if target_at is not None:
            f["after_target" if hit.marker > target_at else "before_target"] = 1.0
        out.append((hit, f))
    return out


def passage(cand: OpinionCandidate, infos: Sequence[SentenceInfo]) -> list[SentenceInfo]:
    """The sentences an opinion's evidence covers: its sentence, the sentence before when the
    tool was carried from there (the evidence then names the tool it is about), and the next
    sentence of the paragraph when that one goes on about it ("It was easy to pick up.")."""
    i = cand.info.sentence.index
    if i >= len(infos) or infos[i] is not cand.info:
        return [cand.info]

    def same_paragraph(j: int) -> bool:
        return (0 <= j < len(infos) and infos[j].sentence.block == cand.info.sentence.block
                and infos[j].sentence.kind not in ("heading", "fragment"))

    out = [cand.info]
    if cand.source == "carried" and same_paragraph(i - 1):
        out.insert(0, infos[i - 1])
    if same_paragraph(i + 1):
        names = {h.mention.entry.name for h in infos[i + 1].hits}
        if (not names or cand.tool in names) and PRONOUN_START.match(infos[i + 1].text):
            out.append(infos[i + 1])
    return out


def passage_quote(sentences: list[SentenceInfo], text: str) -> str:
    if len(sentences) == 1:
        return quote(sentences[0])
    q = text[sentences[0].sentence.start : sentences[-1].sentence.end].strip()
    return q if len(q) <= MAX_QUOTE else q[:MAX_QUOTE].rsplit(" ", 1)[0]


def decide_opinions(
    model: OfflineModel, candidates: list[OpinionCandidate], tools: set[str],
    infos: Sequence[SentenceInfo] = (), text: str = "",
) -> tuple[list[Reason], list[Regret]]:
    """The reasons and regrets the models find, at most one of each per sentence; the evidence
    is the sentence's passage (`passage`) when the document's sentences and text are given."""
    best: dict[tuple[int, str], tuple[float, OpinionCandidate]] = {}
    for cand in candidates:
        if cand.tool not in tools:
            continue
        key = cand.info.sentence.index
        for kind, scorer in (("reason", model.reason), ("regret", model.regret)):
            p = scorer(cand.features)
            if p >= model.threshold(kind) and p > best.get((key, kind), (0.0, cand))[0]:
                best[(key, kind)] = (p, cand)
    reasons: list[Reason] = []
    regrets: list[Regret] = []
    for (_, kind), (p, cand) in sorted(best.items(), key=lambda kv: kv[0]):
        q = passage_quote(passage(cand, infos), text) if text else quote(cand.info)
        evidence = [Evidence(quote=q)]
        summary_text = summary(cand.info.text)
        if kind == "reason":
            reasons.append(Reason(tool=cand.tool, text=summary_text, confidence=round(p, 3),
                                  evidence=evidence))
        else:
            scored = [(model.would_instead(f), h.mention.entry.name)
                      for h, f in would_instead_candidates(cand.info, cand.tool)]
            top = max(scored, default=(0.0, None))
            regrets.append(Regret(tool=cand.tool, text=summary_text, confidence=round(p, 3),
                                  would_instead=top[1] if top[0] >= model.threshold(
                                      "would_instead") else None,
                                  evidence=evidence))
    return reasons, regrets


_PURPOSE = re.compile(
    r"<t>\s+(?:as|for)\s+(?:a|an|our|the|its|their)\s+"
    r"((?:[a-z][\w-]*\s+){0,4}?(?:[a-z][\w-]*))(?=\s*(?:[,.;:!?)]|$|\s(?:and|but|which|that|"
    r"because|since|so|while|where|when|with|in|on|at|to)\b))"
    r"|\b(?:use|uses|using|used|rely on|run|runs)\s+<t>\s+(?:to|for)\s+"
    r"((?:[a-z][\w-]*\s+){0,5}?(?:[a-z][\w-]*))(?=\s*(?:[,.;:!?)]|$|\s(?:and|but|which|because|"
    r"since|so|while)\b))"
)


def purpose(ctx: Context, hits: list[Hit]) -> str | None:
    """What the text says the tool is for, where it says it ('X as our message bus')."""
    for hit in hits:
        info = ctx.found.infos[hit.sentence.index]
        skeleton = " ".join(tokens(info.skeleton, hit.marker)).replace(" '", "'")
        match = _PURPOSE.search(skeleton)
        if match:
            words = (match.group(1) or match.group(2)).split()
            if "<o>" in words or "<t>" in words or not 1 <= len(words) <= 6:
                continue
            return " ".join(words)
    return None
