"""Precision of the recogniser of unknown names (offline/unknown.py) on its own.

For every labelled writeup, the names it proposes (score >= THRESHOLD, before any status
decision or the extractor's filters) are compared
with the gold tools of that file (name or alias, compared squashed). Prints per file and in
total: proposals, how many are gold tools, and the share per signal combination.

    python scripts/recogniser_precision.py --gold ../shared/gold --corpus ../shared/corpus [-v]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from stackextract.catalog import Catalog, squash
from stackextract.offline.prose import prose_mask
from stackextract.offline.sentences import split
from stackextract.offline.unknown import THRESHOLD, score_unknown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every proposal")
    args = parser.parse_args(argv)
    catalog = Catalog.default()
    total = hits = 0
    by_signals: Counter[tuple[str, bool]] = Counter()
    print(f"{'file':40} {'proposed':>8} {'gold':>5}  precision")
    for path in sorted(args.gold.glob("*.json")):
        source = next(iter(args.corpus.glob(path.stem + ".*")), None)
        if source is None:
            continue
        gold = {
            squash(n)
            for t in json.loads(path.read_text(encoding="utf-8"))["tools"]
            for n in [t["name"], *(t.get("aliases") or [])]
        }
        text = source.read_text(encoding="utf-8")
        view = prose_mask(text)
        scored = [s for s in score_unknown(view, split(view), catalog, text)
                  if s.score >= THRESHOLD]
        good = [s for s in scored if squash(s.name) in gold]
        total += len(scored)
        hits += len(good)
        for s in scored:
            by_signals[("+".join(sorted(s.signals)), squash(s.name) in gold)] += 1
        share = len(good) / len(scored) if scored else 1.0
        print(f"{path.stem[:40]:40} {len(scored):8} {len(good):5}  {share:.2f}")
        if args.verbose:
            for s in scored:
                mark = "+" if squash(s.name) in gold else "-"
                print(f"    {mark} {s.name} ({'+'.join(sorted(s.signals))}, {s.score:.2f})")
    print(f"{'total':40} {total:8} {hits:5}  {hits / max(total, 1):.2f}")
    print("per signal combination (gold / proposed):")
    combos = sorted({c for c, _ in by_signals})
    for combo in combos:
        good, bad = by_signals[(combo, True)], by_signals[(combo, False)]
        print(f"  {combo:28} {good:4} / {good + bad:4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
