"""Score the cleaning step on the article-extraction benchmark, next to trafilatura alone.

    .venv/bin/python benchmarks/clean.py [--data DIR] [--worst N] [--json OUT]

Runs `stackextract.sources.clean.clean_html` and `trafilatura.extract` (its defaults, and the
`include_comments=False` call behind the published 0.958) over the 181 pages of
../shared/benchmarks/article-extraction, one page at a time in this process, and prints F1,
precision, recall, accuracy and time per page side by side (metric: that folder's README,
implemented in `stackextract.evaluation.article_metric`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura

from stackextract.errors import CleanError
from stackextract.evaluation.article_metric import PageScore, score_page, summarize
from stackextract.sources.clean import clean_html

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "article-extraction"


def load_pages(data: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Return (html by page id, reference body by page id)."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    html = {}
    for key in truth:
        with gzip.open(data / "html" / f"{key}.html.gz", "rt", encoding="utf-8") as fh:
            html[key] = fh.read()
    return html, {k: v.get("articleBody", "") for k, v in truth.items()}


def project(html: str) -> str:
    try:
        return clean_html(html).text
    except CleanError:
        return ""


def trafilatura_defaults(html: str) -> str:
    return trafilatura.extract(html) or ""


def trafilatura_published(html: str) -> str:
    return trafilatura.extract(html, include_comments=False) or ""


SYSTEMS: dict[str, Callable[[str], str]] = {
    "stackextract clean_html": project,
    "trafilatura.extract() defaults": trafilatura_defaults,
    "trafilatura include_comments=False": trafilatura_published,
}


def run_all(
    html: dict[str, str],
) -> tuple[dict[str, dict[str, str]], dict[str, list[float]]]:
    """Run every system on every page, page by page with the order rotated, so that a
    change in machine load during the run weighs on all systems alike."""
    names = list(SYSTEMS)
    outputs: dict[str, dict[str, str]] = {n: {} for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for i, (key, page) in enumerate(html.items()):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            outputs[name][key] = SYSTEMS[name](page)
            times[name].append(time.perf_counter() - start)
    return outputs, times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--worst", type=int, default=8, help="list the N worst pages of ours")
    parser.add_argument("--json", type=Path, help="write per-system figures to this file")
    args = parser.parse_args(argv)
    if not (args.data / "ground-truth.json").is_file():
        print(f"error: no ground-truth.json in {args.data}; pass --data", file=sys.stderr)
        return 2
    logging.disable(logging.WARNING)  # trafilatura logs every discarded page
    html, truth = load_pages(args.data)
    for fn in SYSTEMS.values():  # warm imports and caches outside the timings
        fn(next(iter(html.values())))

    rows: list[dict[str, Any]] = []
    per_page: dict[str, dict[str, PageScore]] = {}
    outputs, times = run_all(html)
    for name in SYSTEMS:
        pred, spent = outputs[name], times[name]
        per_page[name] = {k: score_page(truth[k], pred[k]) for k in truth}
        s = summarize(per_page[name].values())
        rows.append(
            {
                "system": name,
                "f1": s.f1,
                "precision": s.precision,
                "recall": s.recall,
                "accuracy": s.accuracy,
                "ms_per_page": 1000 * statistics.mean(spent),
                "ms_median": 1000 * statistics.median(spent),
                "seconds_total": sum(spent),
                "empty": sum(not pred[k].strip() for k in pred),
            }
        )

    base = float(rows[1]["seconds_total"])
    print(f"{len(truth)} pages from {args.data}\n")
    print(
        "| system | F1 | precision | recall | accuracy | ms/page (mean) | ms/page (median) "
        "| total s | vs trafilatura | empty |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['system']} | {r['f1']:.4f} | {r['precision']:.4f} | {r['recall']:.4f} "
            f"| {r['accuracy']:.3f} | {r['ms_per_page']:.1f} | {r['ms_median']:.1f} "
            f"| {r['seconds_total']:.2f} | {r['seconds_total'] / base:.2f}x | {r['empty']} |"
        )

    ours = per_page["stackextract clean_html"]
    worst = sorted(ours, key=lambda k: ours[k].f1)[: args.worst]
    if worst:
        print(
            f"\nworst {len(worst)} pages of stackextract clean_html (id, F1, P, R, chars out/ref):"
        )
        for k in worst:
            page = ours[k]
            n_out, n_ref = len(outputs["stackextract clean_html"][k]), len(truth[k])
            print(
                f"  {k[:12]}  F1={page.f1:.3f}  P={page.precision:.3f}  "
                f"R={page.recall:.3f}  {n_out}/{n_ref}"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
