"""Catalog load time and offline extraction time per document: the catalog before issue 13
(about 2,900 hand-kept entries) against the bundled one, in the same run.

    python benchmarks/catalog.py [--before-rev 9d12073] [--loads 7] [--repeat 5]
                                 [--corpus ../shared/corpus]

Load: a fresh interpreter per measurement (`--loads` of them per catalog) times reading the
JSON and building the matcher's index (`Catalog.from_file`), as `Catalog.default()` does once
per process; the median is printed. Extraction: HeuristicExtractor.extract + grounding
(`process_document`) on every writeup of the corpus, `--repeat` times each, median per
document; both catalogs run with the same (current) code, so the difference is the catalog's.
The old catalog comes from `git show REV:src/stackextract/data/catalog.json`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stackextract.catalog import Catalog
from stackextract.offline.extractor import HeuristicExtractor
from stackextract.pipeline import process_document
from stackextract.sources.load import load

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "src" / "stackextract" / "data" / "catalog.json"
_LOAD = (
    "import sys, time\n"
    "from stackextract.catalog import Catalog\n"
    "t, cpu = time.perf_counter(), time.process_time(); c = Catalog.from_file(sys.argv[1])\n"
    "print(time.perf_counter() - t, time.process_time() - cpu, len(c))\n"
)


def load_seconds(path: Path, runs: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds to read and index the catalog file in a fresh process
    (CPU time is the steadier figure on a busy machine)."""
    wall, cpu, size = [], [], 0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _LOAD, str(path)], check=True,
                             capture_output=True, text=True).stdout.split()
        wall.append(float(out[0]))
        cpu.append(float(out[1]))
        size = int(out[2])
    return statistics.median(wall), statistics.median(cpu), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before-rev", default="9d12073")
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT / "fixtures" / "corpus")
    args = parser.parse_args()
    old_json = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{args.before_rev}:src/stackextract/data/catalog.json"],
        check=True, capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "catalog-before.json"
        before.write_bytes(old_json)
        catalogs = {"before": before, "after": BUNDLED}
        print(f"{'catalog':8} {'entries':>8} {'MB':>6} {'load s (median)':>16} {'CPU s':>6}")
        loaded = {}
        for label, path in catalogs.items():
            seconds, cpu, size = load_seconds(path, args.loads)
            mb = path.stat().st_size / 1e6
            print(f"{label:8} {size:8} {mb:6.2f} {seconds:16.3f} {cpu:6.3f}")
            loaded[label] = Catalog.from_file(path)
    documents = sorted((load(p) for p in args.corpus.iterdir() if p.is_file()),
                       key=lambda d: -len(d.text))
    extractors = {k: HeuristicExtractor(catalog=c) for k, c in loaded.items()}
    per_doc: dict[str, list[float]] = {k: [] for k in extractors}
    print(f"\n{'document':50} {'chars':>7} {'before ms':>10} {'after ms':>9}")
    for doc in documents:
        row = []
        for label, extractor in extractors.items():
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                process_document(doc, extractor)
                times.append((time.perf_counter() - t0) * 1000)
            per_doc[label].append(statistics.median(times))
            row.append(statistics.median(times))
        name = Path(doc.path or "?").name[:50]
        print(f"{name:50} {len(doc.text):7d} {row[0]:10.1f} {row[1]:9.1f}")
    for label, times in per_doc.items():
        print(f"{label}: median {statistics.median(times):.1f} ms per document, "
              f"mean {statistics.fmean(times):.1f} ms, max {max(times):.1f} ms "
              f"({len(times)} documents)")


if __name__ == "__main__":
    main()
