"""The offline extractor: the embedded default, no network, no key, deterministic.

Takes: a `Document`. Gives: an ungrounded `Stack` (the pipeline grounds it) with a
`relevance` score. Steps, one module each: candidates (catalog mentions and proposed unknown
names in sentences, with cue patterns: candidates, sentences, prose, unknown, cues), features,
model (the shipped weights of data/offline_model.json, scored in plain Python), then the
decisions in extractor (tools, status, purpose), opinions (reasons, regrets, would-instead)
and migrations. rules holds the rule-based extractor it replaced (`RuleExtractor`), whose
decisions are features too. Training lives in stackextract.evaluation.train.
"""

from __future__ import annotations

from stackextract.offline.extractor import HeuristicExtractor, LearnedExtractor

__all__ = ["HeuristicExtractor", "LearnedExtractor"]
