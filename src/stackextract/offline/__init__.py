"""The offline extractor: the embedded default, no network, no key, deterministic.

Takes: a `Document`. Gives: an ungrounded `Stack` (the pipeline grounds it). Steps: catalog
mentions and proposed unknown names (unknown) in sentences (sentences, prose), then status,
reasons, regrets and migrations from cue phrases (cues) in `extractor.HeuristicExtractor`.
"""

from __future__ import annotations

from stackextract.offline.extractor import HeuristicExtractor

__all__ = ["HeuristicExtractor"]
