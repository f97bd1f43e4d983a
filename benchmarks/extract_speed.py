"""Offline extraction speed on the corpus: per-document time on one core.

    python benchmarks/extract_speed.py [--repeat 20] [--corpus fixtures/corpus]

Loads every writeup once, then times HeuristicExtractor.extract + grounding (the whole
offline path after cleaning) `--repeat` times per document, single process, and prints the
median and max per document, longest first. The catalog is built once beforehand (it is
cached per process, as in a batch worker).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from stackextract.offline.extractor import HeuristicExtractor
from stackextract.pipeline import process_document
from stackextract.sources.load import load

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--corpus", type=Path, default=ROOT / "fixtures" / "corpus")
    args = parser.parse_args()

    started = time.perf_counter()
    extractor = HeuristicExtractor()
    extractor.extract(load("We use PostgreSQL."))  # build the catalog index once
    print(f"catalog load + index: {time.perf_counter() - started:.3f} s (once per process)")
    documents = sorted((load(p) for p in args.corpus.iterdir() if p.is_file()),
                       key=lambda d: -len(d.text))
    print(f"{'document':60} {'chars':>7} {'median ms':>10} {'max ms':>8}")
    for doc in documents:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            process_document(doc, extractor)
            times.append((time.perf_counter() - t0) * 1000)
        name = Path(doc.path or "?").name
        print(f"{name:60} {len(doc.text):7d} {statistics.median(times):10.1f} {max(times):8.1f}")


if __name__ == "__main__":
    main()
