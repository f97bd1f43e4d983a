"""Offline extraction speed on the corpus: per-document time on one core.

    python benchmarks/extract_speed.py [--repeat 20] [--corpus fixtures/corpus]

Loads every writeup once, then times extract + grounding (the whole offline path after
cleaning) `--repeat` times per document, single process, for the learned extractor (the
`offline` backend) and, in the same run, the rule-based one it replaced, and prints the
median and max CPU time (time.process_time: one core, not skewed by other
processes on the machine) per document, longest first. The catalog and the weights are loaded once
beforehand (they are cached per process, as in a batch worker).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from stackextract.offline.extractor import LearnedExtractor
from stackextract.offline.rules import RuleExtractor
from stackextract.pipeline import process_document
from stackextract.sources.load import load

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--corpus", type=Path, default=ROOT / "fixtures" / "corpus")
    args = parser.parse_args()

    started = time.process_time()
    extractors = {"learned": LearnedExtractor(), "rules": RuleExtractor()}
    for extractor in extractors.values():
        extractor.extract(load("We use PostgreSQL."))  # build the catalog index once
    print(f"catalog + weights load: {time.process_time() - started:.3f} s (once per process)")
    documents = sorted((load(p) for p in args.corpus.iterdir() if p.is_file()),
                       key=lambda d: -len(d.text))
    print(f"{'document':52} {'chars':>7} " + " ".join(
        f"{name + ' med ms':>16} {name + ' max':>11}" for name in extractors))
    for doc in documents:
        cells = []
        for extractor in extractors.values():
            times = []
            for _ in range(args.repeat):
                t0 = time.process_time()
                process_document(doc, extractor)
                times.append((time.process_time() - t0) * 1000)
            cells.append(f"{statistics.median(times):16.1f} {max(times):11.1f}")
        name = Path(doc.path or "?").name[:52]
        print(f"{name:52} {len(doc.text):7d} " + " ".join(cells))


if __name__ == "__main__":
    main()
