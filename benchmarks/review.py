"""Review of a large database: how long the index takes to load in headless Chromium.

    python benchmarks/review.py [--documents 500] [--corpus fixtures/corpus] [--runs 5]

Builds a database of `--documents` writeups from the corpus texts with variations (each copy
gets a paragraph with a migration between two tools drawn from the corpus's own stacks, so
the graph has many edges), extracted offline; writes the review (index + one page per
document); then loads the index in headless Chromium `--runs` times, each with a fresh
profile, and prints the page's own load time (navigation start to the end of the load event,
read from the dumped DOM of a timed copy of the index) and the wall time of the whole
Chromium process (start-up included).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import run_chromium  # noqa: E402
from stackextract.extractors import get_extractor  # noqa: E402
from stackextract.models import Document  # noqa: E402
from stackextract.pipeline import process_document  # noqa: E402
from stackextract.review import write_database_review  # noqa: E402
from stackextract.sources.load import load  # noqa: E402
from stackextract.store import Store  # noqa: E402

_TIMER = ("<script>addEventListener('load',function(){setTimeout(function(){"
          "var n=performance.getEntriesByType('navigation')[0];"
          "document.body.setAttribute('data-load-ms',String(n.loadEventEnd));"
          "document.body.setAttribute('data-dcl-ms',String(n.domContentLoadedEventEnd));"
          "},0)});</script>")


def build(db: Path, corpus: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    extractor = get_extractor("offline")
    base = [load(p) for p in sorted(corpus.iterdir()) if p.is_file()]
    names = sorted({t.canonical for d in base for t in process_document(d, extractor).tools
                    if t.in_catalog})
    with Store(db) as store:
        for i in range(count):
            doc = base[i % len(base)]
            a, b = rng.sample(names, 2)
            extra = (f"\n\nUpdate {i}: in {2015 + i % 10} we moved from {a} to {b} because "
                     f"{a} was too slow for us.")
            variant = Document(text=doc.text + extra, format=doc.format,
                               url=f"https://blog{i}.example/{i}", title=f"{doc.title} #{i}")
            store.save(variant, process_document(variant, extractor), config_key="bench")


def timed_copy(index: Path) -> Path:
    """The index with its CSP removed and a timer script added (the real page is untouched)."""
    html = index.read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html, count=1)
    html = html.replace("</body>", _TIMER + "</body>", 1)
    out = index.with_name("index-timed.html")
    out.write_text(html, encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--corpus", type=Path, default=ROOT / "fixtures" / "corpus")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        db = Path(tmp) / "stacks.db"
        started = time.perf_counter()
        build(db, args.corpus, args.documents)
        print(f"built {args.documents} documents in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        result = write_database_review(db, Path(tmp) / "site")
        took = time.perf_counter() - started
        size = result.index.stat().st_size
        print(f"review written in {took:.2f} s: {len(result.pages)} pages, index "
              f"{size / 1024:.0f} KiB, {len(result.graph.edges)} migration edges")
        page = timed_copy(result.index)
        loads, dcls, walls = [], [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            proc = run_chromium("--virtual-time-budget=2000", "--dump-dom", page.as_uri())
            walls.append(time.perf_counter() - started)
            found = re.search(r'data-load-ms="([\d.]+)"', proc.stdout)
            dcl = re.search(r'data-dcl-ms="([\d.]+)"', proc.stdout)
            if not found or not dcl:
                raise SystemExit(f"no timing in the dumped DOM: {proc.stderr[-500:]}")
            loads.append(float(found.group(1)))
            dcls.append(float(dcl.group(1)))
        print(f"index load event end (ms): median {statistics.median(loads):.0f}, "
              f"max {max(loads):.0f}; DOMContentLoaded median {statistics.median(dcls):.0f}")
        print(f"load average during the runs: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        print(f"chromium process wall time incl. start-up (s): median "
              f"{statistics.median(walls):.2f}, max {max(walls):.2f}")


if __name__ == "__main__":
    main()
