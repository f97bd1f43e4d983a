"""Score a backend against gold labels (the rules of shared/gold/FORMAT.md).

The same rules apply to every backend, so the offline and LLM figures can be compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stackextract.catalog.vocabulary import squash
from stackextract.errors import InputError
from stackextract.grounding.locate import Grounder
from stackextract.models import Document, Stack

_VENDORS = {"amazon", "aws", "google", "gcp", "azure", "microsoft", "apache"}


def name_variants(name: str) -> set[str]:
    """The forms under which two names count as the same tool."""
    words = name.casefold().split()
    forms = {name.casefold()}
    if len(words) > 1 and words[0] in _VENDORS:
        forms.add(" ".join(words[1:]))
    variants = set()
    for form in forms:
        squashed = squash(form)
        if squashed:
            variants.add(squashed)
            if squashed.endswith("js") and len(squashed) > 2:
                variants.add(squashed[:-2])
    return variants


def names_match(a: str | Iterable[str], b: str | Iterable[str]) -> bool:
    left = {a} if isinstance(a, str) else set(a)
    right = {b} if isinstance(b, str) else set(b)
    lv = set().union(*(name_variants(x) for x in left if x))
    rv = set().union(*(name_variants(x) for x in right if x))
    return bool(lv & rv)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "precision": round(self.precision, 3),
                "recall": round(self.recall, 3), "f1": round(self.f1, 3)}


@dataclass
class FileScore:
    file: str
    tools: Counts = field(default_factory=Counts)
    reasons: Counts = field(default_factory=Counts)
    regrets: Counts = field(default_factory=Counts)
    migrations: Counts = field(default_factory=Counts)
    status_correct: int = 0
    status_total: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)
    status_errors: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Report:
    backend: str
    files: list[FileScore]

    def total(self, kind: str) -> Counts:
        total = Counts()
        for f in self.files:
            total.add(getattr(f, kind))
        return total

    @property
    def status_accuracy(self) -> float:
        correct = sum(f.status_correct for f in self.files)
        total = sum(f.status_total for f in self.files)
        return correct / total if total else 0.0

    def as_dict(self) -> dict[str, Any]:
        kinds = ("tools", "reasons", "regrets", "migrations")
        return {
            "backend": self.backend,
            "micro": {k: self.total(k).as_dict() for k in kinds}
            | {"status_accuracy": round(self.status_accuracy, 3)},
            "files": [
                {"file": f.file, "error": f.error,
                 **{k: getattr(f, k).as_dict() for k in kinds},
                 "status_accuracy": round(f.status_correct / f.status_total, 3)
                 if f.status_total else None,
                 "false_positives": f.false_positives, "false_negatives": f.false_negatives,
                 "status_errors": f.status_errors}
                for f in self.files
            ],
        }


def _span(grounder: Grounder, quote: str) -> tuple[int, int] | None:
    span = grounder.locate(quote)
    return (span.start, span.end) if span else None


def _opinion_counts(
    predicted: list[Any], gold: list[dict[str, Any]], grounder: Grounder
) -> Counts:
    used: set[int] = set()
    tp = 0
    gold_spans = [_span(grounder, g["quote"]) for g in gold]
    for item in predicted:
        evidence = [(e.start, e.end, e.quote) for e in item.evidence]
        for gi, g in enumerate(gold):
            if gi in used or not names_match(item.tool, g["tool"]):
                continue
            gspan = gold_spans[gi]
            if _overlaps(evidence, gspan, g["quote"]):
                used.add(gi)
                tp += 1
                break
    return Counts(tp=tp, fp=len(predicted) - tp, fn=len(gold) - tp)


def _overlaps(evidence: list[tuple[int | None, int | None, str]],
              gold_span: tuple[int, int] | None, gold_quote: str) -> bool:
    gold_words = re.findall(r"\w+", gold_quote.casefold())
    for start, end, quote in evidence:
        if start is not None and end is not None and gold_span is not None:
            if start < gold_span[1] and gold_span[0] < end:
                return True
        elif gold_words:
            words = set(re.findall(r"\w+", quote.casefold()))
            if sum(1 for w in gold_words if w in words) * 2 >= len(gold_words):
                return True
    return False


def score_file(stack: Stack, document: Document, gold: dict[str, Any], name: str) -> FileScore:
    """Score one Stack against one gold file."""
    result = FileScore(file=name)
    grounder = Grounder(document.text)
    gold_tools = gold.get("tools", [])
    gold_names = [[t["name"], *t.get("aliases", [])] for t in gold_tools]
    matched_gold: dict[int, Any] = {}
    for tool in stack.tools:
        hits = [i for i, names in enumerate(gold_names)
                if names_match([tool.canonical, tool.name], names)]
        if not hits:
            result.tools.fp += 1
            result.false_positives.append(tool.canonical)
            continue
        for i in hits:
            matched_gold.setdefault(i, tool)
    result.tools.tp = len(matched_gold)
    result.tools.fn = len(gold_tools) - len(matched_gold)
    result.false_negatives = [t["name"] for i, t in enumerate(gold_tools) if i not in matched_gold]
    for i, tool in matched_gold.items():
        result.status_total += 1
        gold_status = gold_tools[i]["status"]
        if tool.status.value == gold_status:
            result.status_correct += 1
        else:
            result.status_errors.append(f"{gold_tools[i]['name']}: {tool.status.value} "
                                        f"(gold {gold_status})")
    result.reasons = _opinion_counts(stack.reasons, gold.get("reasons", []), grounder)
    result.regrets = _opinion_counts(stack.regrets, gold.get("regrets", []), grounder)
    used: set[int] = set()
    for m in stack.migrations:
        for gi, g in enumerate(gold.get("migrations", [])):
            if gi not in used and names_match(m.from_tool, g["from"]) and names_match(
                m.to_tool, g["to"]
            ):
                used.add(gi)
                result.migrations.tp += 1
                break
        else:
            result.migrations.fp += 1
    result.migrations.fn = len(gold.get("migrations", [])) - result.migrations.tp
    return result


def evaluate(
    gold_dir: str | Path,
    corpus_dir: str | Path,
    *,
    backend: str = "offline",
    run: Callable[[Document], Stack] | None = None,
    **settings: Any,
) -> Report:
    """Run `backend` (or `run`) over every gold-labelled writeup and score it."""
    from stackextract.extractors import get_extractor
    from stackextract.pipeline import process_document
    from stackextract.sources.load import load

    gold_dir, corpus_dir = Path(gold_dir), Path(corpus_dir)
    gold_files = sorted(gold_dir.glob("*.json"))
    if not gold_files:
        raise InputError(f"no gold files (*.json) in {gold_dir}")
    if run is None:
        extractor = get_extractor(backend, **settings)

        def run(doc: Document) -> Stack:
            return process_document(doc, extractor)

    files = []
    for gold_path in gold_files:
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        source = corpus_dir / gold.get("source", "")
        if not source.is_file():
            candidates = sorted(corpus_dir.glob(gold_path.stem + ".*"))
            source = candidates[0] if candidates else source
        try:
            document = load(source)
            stack = run(document)
        except Exception as exc:  # one bad file must not hide the others' scores
            score = FileScore(file=gold_path.stem, error=f"{type(exc).__name__}: {exc}")
            score.tools.fn = len(gold.get("tools", []))
            files.append(score)
            continue
        files.append(score_file(stack, document, gold, gold_path.stem))
    return Report(backend=backend, files=files)
