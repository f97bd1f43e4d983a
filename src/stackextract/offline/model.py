"""The shipped linear models, scored in plain Python (no numpy, no scikit-learn).

`data/offline_model.json` holds, per decision, a vocabulary of feature -> weight(s), the
intercept(s) and a calibration map (isotonic, fitted on the cross-validation folds); it is
written by `scripts/train.py` (stackextract.evaluation.train) and read here. Scoring is a
sum over the features present, a logistic or softmax, and a piecewise-linear map: exact and
deterministic.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from stackextract.offline.features import Features

MODEL_FILE = "data/offline_model.json"


@dataclass(frozen=True)
class Calibration:
    """A monotone piecewise-linear map from raw probability to calibrated probability."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, p: float) -> float:
        if not self.x:
            return p
        if p <= self.x[0]:
            return self.y[0]
        if p >= self.x[-1]:
            return self.y[-1]
        i = bisect.bisect_right(self.x, p)
        x0, x1, y0, y1 = self.x[i - 1], self.x[i], self.y[i - 1], self.y[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (p - x0) / (x1 - x0)


@dataclass(frozen=True)
class Binary:
    """P(yes | features) of a logistic regression, calibrated."""

    weights: dict[str, float]
    intercept: float
    calibration: Calibration

    def raw(self, features: Features) -> float:
        z = self.intercept + sum(self.weights.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))

    def __call__(self, features: Features) -> float:
        return self.calibration(self.raw(features))


@dataclass(frozen=True)
class Multiclass:
    """Class probabilities of a multinomial logistic regression."""

    classes: tuple[str, ...]
    weights: dict[str, tuple[float, ...]]
    intercepts: tuple[float, ...]
    one_vs_rest: bool = False

    def __call__(self, features: Features) -> dict[str, float]:
        z = list(self.intercepts)
        for k, v in features.items():
            w = self.weights.get(k)
            if w is not None:
                for i, wi in enumerate(w):
                    z[i] += wi * v
        if self.one_vs_rest:
            e = [1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, x)))) for x in z]
        else:
            top = max(z)
            e = [math.exp(x - top) for x in z]
        total = sum(e)
        return {c: x / total for c, x in zip(self.classes, e, strict=True)}


def _binary(d: dict[str, Any]) -> Binary:
    cal = d.get("calibration") or {"x": [], "y": []}
    return Binary(dict(d["weights"]), float(d["intercept"]),
                  Calibration(tuple(cal["x"]), tuple(cal["y"])))


def _multiclass(d: dict[str, Any]) -> Multiclass:
    return Multiclass(tuple(d["classes"]), {k: tuple(v) for k, v in d["weights"].items()},
                      tuple(d["intercepts"]), bool(d.get("one_vs_rest", False)))


@dataclass(frozen=True)
class OfflineModel:
    """Every learned decision of the offline extractor, plus the thresholds they ship with."""

    tool: Binary  # in this team's stack (vs only named)
    status: Multiclass  # uses / used_previously / evaluated / planned
    reason: Binary  # this sentence gives a reason for choosing this tool
    regret: Binary  # this sentence is a regret about this tool
    would_instead: Binary  # in a regret sentence, this other tool is what they'd pick instead
    migration: Binary  # the team moved from A to B
    relevance: Binary  # the document is a team's stack writeup
    digest: str  # sha256 of the weights file: part of the extractor's cache key
    min_relevance: float = 0.5
    # the probability an item needs to be emitted at all, per kind (chosen on the CV figures)
    thresholds: tuple[tuple[str, float], ...] = ()

    def threshold(self, kind: str) -> float:
        return dict(self.thresholds).get(kind, 0.5)

    @classmethod
    def from_dict(cls, data: dict[str, Any], digest: str) -> OfflineModel:
        m = data["models"]
        return cls(
            tool=_binary(m["tool"]), status=_multiclass(m["status"]),
            reason=_binary(m["reason"]), regret=_binary(m["regret"]),
            would_instead=_binary(m["would_instead"]), migration=_binary(m["migration"]),
            relevance=_binary(m["relevance"]), digest=digest,
            min_relevance=float(data.get("min_relevance", 0.5)),
            thresholds=tuple(sorted((k, float(v)) for k, v in
                                    data.get("thresholds", {}).items())),
        )

    @classmethod
    def load(cls, path: str | Path) -> OfflineModel:
        raw = Path(path).read_bytes()
        return cls.from_dict(json.loads(raw), hashlib.sha256(raw).hexdigest()[:16])


@lru_cache(maxsize=1)
def default_model() -> OfflineModel:
    """The weights shipped in the package (read once per process)."""
    raw = resources.files("stackextract").joinpath(MODEL_FILE).read_bytes()
    return OfflineModel.from_dict(json.loads(raw), hashlib.sha256(raw).hexdigest()[:16])
