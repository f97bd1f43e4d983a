"""Retrain the offline extractor's decisions and print their cross-validated figures.

    pip install -e '.[train]'
    python scripts/train.py            # writes src/stackextract/data/offline_model.json
    python scripts/train.py --output /tmp/model.json --gold ../shared/gold
    python scripts/train.py --learning-curve 4,7,10,14   # CV by groups trained on; no model

Fixed seed; the same data gives the same file (tests/test_training.py checks the shipped one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from stackextract.catalog.vocabulary import Catalog
from stackextract.evaluation.train import (
    figures,
    learning_curve,
    read_data,
    report_dict,
    summary,
    train,
    write_model,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED = next((p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()),
              ROOT.parent / "shared")
OUTPUT = ROOT / "src" / "stackextract" / "data" / "offline_model.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gold", type=Path, default=SHARED / "gold")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--negatives", type=Path,
                        default=SHARED / "benchmarks" / "article-extraction" / "html",
                        help="pages that are not stack writeups (for the relevance model)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--report", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--workers", type=int, default=2, help="processes loading the pages")
    parser.add_argument("--learning-curve", metavar="SIZES",
                        help="comma-separated numbers of training groups per fold (e.g. 4,7,10,14):"
                             " print the cross-validated figures of each, two random draws of the"
                             " groups per size, and write no model")
    args = parser.parse_args(argv)
    try:
        sizes = [int(x) for x in args.learning_curve.split(",")] if args.learning_curve else []
    except ValueError:
        parser.error(f"--learning-curve takes numbers like 4,7,10, not {args.learning_curve!r}")
    for path in (args.gold, args.corpus, args.negatives):
        if not path.is_dir():
            print(f"error: no such folder: {path}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    data = read_data(args.gold, args.corpus, args.negatives, Catalog.default(),
                     workers=args.workers)
    if sizes:
        try:
            rows = learning_curve(data, sizes)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for size, repeat, report in rows:
            print(f"{size:3d} groups, draw {repeat}: {figures(report)}")
        print(f"done in {time.perf_counter() - started:.1f} s (no model written)")
        return 0
    result = train(data)
    print(summary(result))
    write_model(result.model, args.output)
    if args.report:
        args.report.write_text(json.dumps(report_dict(result), indent=1), encoding="utf-8")
    print(f"wrote {args.output} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
