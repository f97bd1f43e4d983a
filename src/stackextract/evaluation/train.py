"""Train the offline extractor's decisions from the labelled writeups (needs the `train` extra).

    python scripts/train.py [--gold ../shared/gold] [--corpus ../shared/corpus]
                            [--negatives ../shared/benchmarks/article-extraction/html]

Candidates come from the normal candidate finding (offline.candidates, so a bigger catalog
or a better unknown-name recogniser is picked up by retraining). Each decision is a logistic
regression on the features of offline.features; it is scored by leave-one-GROUP-out
cross-validation (a whole blog held out at a time, groups from gold/index.csv) with the
scorer of `stackextract eval`, micro-averaged over the folds. Probabilities are calibrated by
isotonic regression on the out-of-fold scores. The fit on everything, with those calibration
maps, is written as plain JSON (offline/model.py scores it without numpy or scikit-learn).
"""

from __future__ import annotations

import csv
import json
import random
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackextract.catalog.vocabulary import Catalog
from stackextract.evaluation.score import FileScore, Report, names_match, score_file
from stackextract.grounding.locate import Grounder
from stackextract.models import Document, Status
from stackextract.offline.extractor import (
    Featurized,
    decide,
    featurize,
    is_english,
    scored_for_relevance,
)
from stackextract.offline.features import Features
from stackextract.offline.model import OfflineModel
from stackextract.offline.opinions import would_instead_candidates
from stackextract.pipeline import DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_RELEVANCE, finish

SEED = 0
STATUSES = [s.value for s in Status]
# the emission threshold per kind: tools only when more likely in the stack than not; the
# opinion and migration models are weaker, their F1 peaks lower (docs/quality.md, the sweep)
# would-instead has 11 positive examples (another tool named in a gold regret's sentence):
# its best out-of-fold score is right 4 times in 10, and that is where it is set
THRESHOLDS = {"tool": 0.5, "reason": 0.2, "regret": 0.2, "migration": 0.2,
              "would_instead": 0.35}
C = {"tool": 0.5, "status": 0.5, "reason": 0.1, "regret": 0.1, "would_instead": 1.0,
     "migration": 0.5, "relevance": 0.3}
BINARY = ("tool", "reason", "regret", "would_instead", "migration", "relevance")
# a feature seen in fewer training examples than this is not kept, per decision: 3 measured
# best overall in the leave-one-group-out sweep of 2, 3, 5, 8, 12, 20 (docs/quality.md); the
# page-relevance model, which that sweep does not score, keeps its 2
MIN_COUNT = {**dict.fromkeys(("tool", "status", "reason", "regret", "would_instead",
                              "migration"), 3), "relevance": 2}
# weights smaller than this are dropped from the fitted models, the cross-validation folds
# included (so the figures are those of the pruned models): they change no decision that
# matters and made most of a 2.5 MB file that every one-shot command parses
PRUNE = 0.01
DIGITS = 4  # weights are kept to 4 decimals (a 1e-4 logit is no decision)


@dataclass
class Labelled:
    """One gold writeup: its document, features and every candidate's label."""

    name: str
    group: str
    document: Document
    gold: dict[str, Any]
    feat: Featurized
    tool_y: dict[str, int]
    status_y: dict[str, str]
    reason_y: list[int]
    regret_y: list[int]
    would: list[tuple[Features, int]]
    migration_y: list[int]


@dataclass
class Page:
    """A document for the relevance model only: a gold writeup (1) or a benchmark page (0)."""

    name: str
    fold: str
    features: Features
    y: int
    feat: Featurized | None = None
    document: Document | None = None


def _names(feat: Featurized, name: str) -> list[str]:
    return [name, *{h.mention.text for h in feat.tools.get(name, [])}]


def _overlap(a: tuple[int, int], b: tuple[int, int] | None) -> bool:
    return b is not None and a[0] < b[1] and b[0] < a[1]


def label(name: str, group: str, document: Document, gold: dict[str, Any],
          feat: Featurized) -> Labelled:
    """Attach the gold labels to every candidate of one writeup."""
    gold_tools = gold.get("tools", [])
    tool_y: dict[str, int] = {}
    status_y: dict[str, str] = {}
    for cand in feat.tools:
        names = _names(feat, cand)
        hit = next((t for t in gold_tools
                    if names_match(names, [t["name"], *t.get("aliases", [])])), None)
        tool_y[cand] = int(hit is not None)
        if hit is not None:
            status_y[cand] = hit["status"]
    grounder = Grounder(document.text)

    def spans(items: list[dict[str, Any]]) -> list[tuple[dict[str, Any], tuple[int, int] | None]]:
        out = []
        for g in items:
            span = grounder.locate(g.get("quote", ""))
            out.append((g, (span.start, span.end) if span else None))
        return out

    reasons, regrets = spans(gold.get("reasons", [])), spans(gold.get("regrets", []))
    reason_y, regret_y, would = [], [], []
    for op in feat.opinions:
        s = (op.info.sentence.start, op.info.sentence.end)
        names = _names(feat, op.tool)
        reason_y.append(int(any(_overlap(s, sp) and names_match(names, g["tool"])
                                for g, sp in reasons)))
        matched = [g for g, sp in regrets if _overlap(s, sp) and names_match(names, g["tool"])]
        regret_y.append(int(bool(matched)))
        for g in matched[:1]:
            for hit, f in would_instead_candidates(op.info, op.tool):
                target = g.get("would_instead") or ""
                would.append((f, int(bool(target) and names_match(
                    _names(feat, hit.mention.entry.name), target))))
    migration_y = [
        int(any(names_match(_names(feat, m.source), g["from"])
                and names_match(_names(feat, m.target), g["to"])
                for g in gold.get("migrations", [])))
        for m in feat.migrations
    ]
    return Labelled(name, group, document, gold, feat, tool_y, status_y, reason_y, regret_y,
                    would, migration_y)


# -- fitting and exporting -----------------------------------------------------------------
def _vocabulary(rows: Sequence[Features], min_count: int) -> list[str]:
    counts: dict[str, int] = {}
    for r in rows:
        for k in r:
            counts[k] = counts.get(k, 0) + 1
    return sorted(k for k, c in counts.items() if c >= min_count)


def _matrix(rows: Sequence[Features], vocab: list[str]) -> Any:
    from scipy.sparse import csr_matrix

    index = {k: i for i, k in enumerate(vocab)}
    data, cols, ptr = [], [], [0]
    for r in rows:
        for k, v in sorted(r.items()):
            i = index.get(k)
            if i is not None:
                cols.append(i)
                data.append(v)
        ptr.append(len(cols))
    return csr_matrix((data, cols, ptr), shape=(len(rows), len(vocab)))


def _fit_binary(rows: Sequence[Features], y: Sequence[int], kind: str) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    vocab = _vocabulary(rows, MIN_COUNT[kind])
    c = C[kind]
    if not vocab or len(set(y)) < 2:
        return {"weights": {}, "intercept": -5.0 if not any(y) else 5.0}
    model = LogisticRegression(C=c, solver="liblinear", dual=True,
                               max_iter=5000, random_state=SEED)
    model.fit(_matrix(rows, vocab), list(y))
    weights = {k: round(float(w), DIGITS) for k, w in zip(vocab, model.coef_[0], strict=True)
               if abs(w) >= PRUNE}
    return {"weights": weights, "intercept": round(float(model.intercept_[0]), 6)}


def _fit_status(rows: Sequence[Features], y: Sequence[str]) -> dict[str, Any]:
    """One-vs-rest: a binary fit per status (liblinear); probabilities are normalised sigmoids."""
    from sklearn.linear_model import LogisticRegression

    vocab = _vocabulary(rows, MIN_COUNT["status"])
    c = C["status"]
    x = _matrix(rows, vocab)
    classes = sorted(set(y))
    coefs, intercepts = [], []
    for cls in classes:
        model = LogisticRegression(C=c, solver="liblinear", dual=True,
                               max_iter=5000, random_state=SEED)
        model.fit(x, [int(v == cls) for v in y])
        coefs.append(model.coef_[0])
        intercepts.append(round(float(model.intercept_[0]), 6))
    weights = {}
    for j, k in enumerate(vocab):
        w = [round(float(coefs[i][j]), DIGITS) for i in range(len(classes))]
        if any(abs(v) >= PRUNE for v in w):
            weights[k] = w
    return {"classes": classes, "weights": weights, "one_vs_rest": True,
            "intercepts": intercepts}


def _fit_all(docs: Sequence[Labelled], pages: Sequence[Page]) -> dict[str, Any]:
    tool_rows, tool_y, status_rows, status_y = [], [], [], []
    op_rows, reason_y, regret_y, would_rows, would_y, mig_rows, mig_y = [], [], [], [], [], [], []
    for d in docs:
        for name, f in d.feat.tool_features.items():
            tool_rows.append(f)
            tool_y.append(d.tool_y[name])
            if name in d.status_y:
                status_rows.append(f)
                status_y.append(d.status_y[name])
        op_rows += [c.features for c in d.feat.opinions]
        reason_y += d.reason_y
        regret_y += d.regret_y
        would_rows += [f for f, _ in d.would]
        would_y += [y for _, y in d.would]
        mig_rows += [m.features for m in d.feat.migrations]
        mig_y += d.migration_y
    return {
        "tool": _fit_binary(tool_rows, tool_y, "tool"),
        "status": _fit_status(status_rows, status_y),
        "reason": _fit_binary(op_rows, reason_y, "reason"),
        "regret": _fit_binary(op_rows, regret_y, "regret"),
        "would_instead": _fit_binary(would_rows, would_y, "would_instead"),
        "migration": _fit_binary(mig_rows, mig_y, "migration"),
        "relevance": _fit_binary([p.features for p in pages], [p.y for p in pages],
                                 "relevance"),
    }


def _isotonic(raw: Sequence[float], y: Sequence[int]) -> dict[str, list[float]]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(list(raw), list(y))
    return {"x": [round(float(v), 6) for v in iso.X_thresholds_],
            "y": [round(float(v), 6) for v in iso.y_thresholds_]}


def _model(fitted: dict[str, Any], calibration: dict[str, Any], digest: str) -> OfflineModel:
    data = {"models": {k: {**v, "calibration": calibration.get(k)} for k, v in fitted.items()},
            "min_relevance": DEFAULT_MIN_RELEVANCE, "thresholds": THRESHOLDS}
    return OfflineModel.from_dict(data, digest)


# -- loading -------------------------------------------------------------------------------
def _load(path: str) -> Document:
    from stackextract.sources.load import load

    return load(Path(path))


def _load_many(paths: Sequence[Path], workers: int) -> list[Document]:
    if workers <= 1:
        return [_load(str(p)) for p in paths]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_load, [str(p) for p in paths], chunksize=4))


def _groups(gold_dir: Path) -> dict[str, str]:
    with (gold_dir / "index.csv").open(encoding="utf-8") as fh:
        return {Path(r["source"]).stem: r["group"] for r in csv.DictReader(fh)}


@dataclass
class Data:
    docs: list[Labelled]
    pages: list[Page] = field(default_factory=list)


def read_data(gold_dir: Path, corpus_dir: Path, negatives_dir: Path | None,
              catalog: Catalog, workers: int = 2) -> Data:
    groups = _groups(gold_dir)
    docs = []
    for gold_path in sorted(gold_dir.glob("*.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        source = corpus_dir / gold.get("source", "")
        document = _load(str(source))
        feat = featurize(document, catalog)
        group = groups.get(Path(gold.get("source", "")).stem) or groups.get(gold_path.stem)
        docs.append(label(gold_path.stem, group or gold_path.stem, document, gold, feat))
    folds = sorted({d.group for d in docs})
    pages = [Page(d.name, d.group, d.feat.document, 1) for d in docs]
    if negatives_dir is not None:
        paths = sorted(p for p in negatives_dir.iterdir() if p.is_file())
        for path, document in zip(paths, _load_many(paths, workers), strict=True):
            feat = featurize(document, catalog)
            # a page is held out with one of the writeup groups, by a hash of its name
            fold = folds[zlib.crc32(path.name.encode()) % len(folds)]
            pages.append(Page(path.name, fold, feat.document, 0, feat, document))
    return Data(docs, pages)


# -- cross-validation ------------------------------------------------------------------------
@dataclass
class Result:
    cv: Report
    fit: Report
    reliability: dict[str, list[tuple[str, int, float, float]]]
    relevance_cv: dict[str, float]  # gold writeup -> out-of-fold relevance
    negatives: dict[str, int]
    model: dict[str, Any]
    sweep: dict[float, Report] = field(default_factory=dict)


def _oof(docs: Sequence[Labelled], pages: Sequence[Page], fitted: dict[str, dict[str, Any]]
         ) -> dict[str, tuple[list[float], list[int]]]:
    """Raw out-of-fold probabilities and labels, per binary decision."""
    out: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in BINARY}
    for d in docs:
        m = _model(fitted[d.group], {}, "cv")
        for name, f in d.feat.tool_features.items():
            out["tool"][0].append(m.tool.raw(f))
            out["tool"][1].append(d.tool_y[name])
        for c, yr, yg in zip(d.feat.opinions, d.reason_y, d.regret_y, strict=True):
            out["reason"][0].append(m.reason.raw(c.features))
            out["reason"][1].append(yr)
            out["regret"][0].append(m.regret.raw(c.features))
            out["regret"][1].append(yg)
        for f, y in d.would:
            out["would_instead"][0].append(m.would_instead.raw(f))
            out["would_instead"][1].append(y)
        for mc, y in zip(d.feat.migrations, d.migration_y, strict=True):
            out["migration"][0].append(m.migration.raw(mc.features))
            out["migration"][1].append(y)
    for p in pages:
        m = _model(fitted[p.fold], {}, "cv")
        out["relevance"][0].append(m.relevance.raw(p.features))
        out["relevance"][1].append(p.y)
    return out


def _score(docs: Sequence[Labelled], models: Callable[[Labelled], OfflineModel],
           relevance: Callable[[Labelled], float], backend: str,
           min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> Report:
    files: list[FileScore] = []
    for d in docs:
        stack = decide(d.feat, models(d), relevance=relevance(d), backend="offline")
        stack = finish(stack, d.document, min_confidence=min_confidence)
        files.append(score_file(stack, d.document, d.gold, d.name))
    return Report(backend=backend, files=files)


def _reliability(prob: Sequence[float], y: Sequence[int]) -> list[tuple[str, int, float, float]]:
    rows = []
    for b in range(10):
        lo, hi = b / 10, (b + 1) / 10
        items = [(p, t) for p, t in zip(prob, y, strict=True)
                 if lo <= p < hi or (b == 9 and p == 1.0)]
        if items:
            rows.append((f"{lo:.1f}-{hi:.1f}", len(items),
                         round(sum(p for p, _ in items) / len(items), 3),
                         round(sum(t for _, t in items) / len(items), 3)))
    return rows


@dataclass
class _Folds:
    """One leave-one-group-out run: the calibrated model of each fold and what it scored."""

    groups: list[str]
    oof: dict[str, tuple[list[float], list[int]]]
    calibration: dict[str, dict[str, list[float]]]
    models: dict[str, OfflineModel]
    relevance_map: Any  # the calibration of out-of-fold relevance scores
    relevance: dict[str, float]  # gold writeup -> out-of-fold relevance
    report: Report


def _cross_validate(data: Data, training_groups: Callable[[str, list[str]], set[str]],
                    backend: str) -> _Folds:
    """Fit one model per held-out group on the writeups of `training_groups(held_out,
    others)` (the non-writeup pages of the other folds always), calibrate on the out-of-fold
    scores, and score every held-out writeup."""
    groups = sorted({d.group for d in data.docs})
    fitted = {}
    for g in groups:
        keep = training_groups(g, [h for h in groups if h != g])
        fitted[g] = _fit_all([d for d in data.docs if d.group in keep],
                             [p for p in data.pages if p.fold != g])
    oof = _oof(data.docs, data.pages, fitted)
    calibration = {k: _isotonic(*oof[k]) for k in BINARY}
    fold_models = {g: _model(fitted[g], calibration, "cv") for g in groups}
    raw_rel = dict(zip([p.name for p in data.pages], oof["relevance"][0], strict=True))
    cal_rel = fold_models[groups[0]].relevance.calibration
    relevance = {d.name: cal_rel(raw_rel[d.name]) for d in data.docs}
    report = _score(data.docs, lambda d: fold_models[d.group], lambda d: relevance[d.name],
                    backend)
    return _Folds(groups, oof, calibration, fold_models, cal_rel, relevance, report)


@dataclass
class _Draw:
    """Training groups of a learning-curve fold: `size` of the others, drawn at random."""

    rng: random.Random
    size: int

    def __call__(self, held_out: str, others: list[str]) -> set[str]:
        return set(self.rng.sample(others, self.size))


def learning_curve(data: Data, sizes: Sequence[int], *, repeats: int = 2
                   ) -> list[tuple[int, int, Report]]:
    """Cross-validated figures when each fold trains on only `size` of the other groups
    (drawn at random, seeded): how the figures grow with the number of blogs labelled, i.e.
    what more labelled writeups would buy. Returns (size, repeat, report) rows; the largest
    possible size is the normal leave-one-group-out run, done once."""
    groups = sorted({d.group for d in data.docs})
    rows = []
    for size in sizes:
        if not 1 <= size < len(groups):
            raise ValueError(f"a learning-curve size must be 1..{len(groups) - 1}, got {size}")
        for repeat in range(repeats if size < len(groups) - 1 else 1):
            draw = _Draw(random.Random(SEED + 1000 * size + repeat), size)
            folds = _cross_validate(data, draw, f"cv, {size} training groups, draw {repeat}")
            rows.append((size, repeat, folds.report))
    return rows


def train(data: Data) -> Result:
    """Leave-one-group-out figures, calibration maps, and the fit on everything."""
    folds = _cross_validate(data, lambda _g, others: set(others),
                            "offline (leave-one-group-out)")
    groups, oof, calibration = folds.groups, folds.oof, folds.calibration
    fold_models, relevance_cv, cv = folds.models, folds.relevance, folds.report
    cal_rel = folds.relevance_map
    sweep = {th: _score(data.docs, lambda d: fold_models[d.group],
                        lambda d: relevance_cv[d.name], f"cv at min_confidence {th}",
                        min_confidence=th) for th in (0.3, 0.4, 0.5)}
    full_fit = _fit_all(data.docs, data.pages)
    model_data = {
        "format": 1,
        "seed": SEED,
        "regularisation": C,
        "min_relevance": DEFAULT_MIN_RELEVANCE,
        "thresholds": THRESHOLDS,
        "trained_on": {"writeups": len(data.docs), "groups": len(groups),
                       "negative_pages": sum(1 for p in data.pages if p.y == 0)},
        "models": {k: {**v, "calibration": calibration.get(k)} for k, v in full_fit.items()},
    }
    full = OfflineModel.from_dict(model_data, "fit")
    fit = _score(data.docs, lambda d: full, lambda d: full.relevance(d.feat.document),
                 "offline (fit on everything)")
    reliability = {k: _reliability([calibration_apply(calibration[k], p) for p in oof[k][0]],
                                   oof[k][1]) for k in ("tool", "reason", "regret", "migration")}
    negatives = _negatives(data, fold_models, oof, cal_rel, full)
    return Result(cv, fit, reliability, relevance_cv, negatives, model_data, sweep)


def calibration_apply(cal: dict[str, list[float]], p: float) -> float:
    from stackextract.offline.model import Calibration

    return Calibration(tuple(cal["x"]), tuple(cal["y"]))(p)


def _negatives(data: Data, fold_models: dict[str, OfflineModel],
               oof: dict[str, tuple[list[float], list[int]]], cal_rel: Any,
               full: OfflineModel) -> dict[str, int]:
    """Tools surviving the default thresholds on the non-writeup pages (cv and fit)."""
    raw_rel = dict(zip([p.name for p in data.pages], oof["relevance"][0], strict=True))
    counts = {"pages": 0, "tools_cv": 0, "pages_with_tools_cv": 0, "tools_fit": 0,
              "tools_without_relevance": 0, "non_english": 0}
    for p in data.pages:
        if p.y or p.feat is None or p.document is None:
            continue
        counts["pages"] += 1
        if not is_english(p.document):
            counts["non_english"] += 1
            continue
        cv_rel = cal_rel(raw_rel[p.name]) if scored_for_relevance(p.feat) else None
        for key, model, rel in (("tools_cv", fold_models[p.fold], cv_rel),
                                ("tools_fit", full, None),
                                ("tools_without_relevance", full, 1.0)):
            stack = finish(decide(p.feat, model, relevance=rel), p.document)
            counts[key] += len(stack.tools)
            if key == "tools_cv" and stack.tools:
                counts["pages_with_tools_cv"] += 1
    return counts


# -- printing ------------------------------------------------------------------------------
def figures(report: Report) -> str:
    t = report.total("tools")
    return (f"tools P/R/F1 {t.precision:.3f}/{t.recall:.3f}/{t.f1:.3f}  "
            f"status {report.status_accuracy:.3f}  "
            f"reasons F1 {report.total('reasons').f1:.3f}  "
            f"regrets F1 {report.total('regrets').f1:.3f}  "
            f"migrations F1 {report.total('migrations').f1:.3f}")


def summary(result: Result) -> str:
    lines = [f"{result.cv.backend}: {figures(result.cv)}",
             f"{result.fit.backend}: {figures(result.fit)}"]
    lines += [f"{r.backend}: {figures(r)}" for r in result.sweep.values()]
    rel = result.relevance_cv
    low = min(rel, key=lambda k: rel[k])
    lines.append(f"relevance (cv) of the {len(rel)} writeups: min {rel[low]:.3f} ({low}), "
                 f"{sum(1 for v in rel.values() if v >= DEFAULT_MIN_RELEVANCE)} of {len(rel)} "
                 f">= {DEFAULT_MIN_RELEVANCE}")
    n = result.negatives
    lines.append(f"non-writeup pages: {n['pages']} ({n['non_english']} not English); tools "
                 f"surviving the defaults: cv {n['tools_cv']} on {n['pages_with_tools_cv']} "
                 f"pages, fit {n['tools_fit']}, without the relevance filter "
                 f"{n['tools_without_relevance']}")
    for kind, rows in result.reliability.items():
        lines.append(f"reliability ({kind}, out-of-fold): bucket count mean-confidence "
                     "share-correct")
        lines += [f"  {b} {c:6d} {m:.3f} {s:.3f}" for b, c, m, s in rows]
    return "\n".join(lines)


def write_model(model: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(model, sort_keys=True, separators=(",", ":")) + "\n",
                    encoding="utf-8")


def report_dict(result: Result) -> dict[str, Any]:
    """The figures of a training run, for tests and docs."""
    return {
        "cv": result.cv.as_dict()["micro"],
        "fit": result.fit.as_dict()["micro"],
        "sweep": {str(k): r.as_dict()["micro"] for k, r in result.sweep.items()},
        "relevance_cv": result.relevance_cv,
        "negatives": result.negatives,
        "reliability": result.reliability,
    }
