"""How many of each labelled writeup's tools the bundled catalog knows (the coverage figure).

The catalog is built from public sources and the curated lists, never from the labels; this
script only reads the labels to measure. A tool counts as known when `Catalog.lookup` resolves
its gold name or one of its gold aliases; "public" counts those whose entry a public source
also has (not only the curated lists).

    python scripts/catalog_coverage.py --gold ../shared/gold [--missing]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stackextract.catalog import Catalog


def coverage(gold: Path, catalog: Catalog) -> list[tuple[str, int, int, int, list[str]]]:
    """(file, tools, known, known to a public source, unknown names) per gold file."""
    rows = []
    for path in sorted(gold.glob("*.json")):
        tools = json.loads(path.read_text(encoding="utf-8"))["tools"]
        known = public = 0
        missing = []
        for tool in tools:
            entry = next(
                (e for n in [tool["name"], *(tool.get("aliases") or [])]
                 if (e := catalog.lookup(n)) is not None),
                None,
            )
            if entry is None:
                missing.append(tool["name"])
                continue
            known += 1
            public += any(s != "curated" for s in entry.sources)
        rows.append((path.stem, len(tools), known, public, missing))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--missing", action="store_true", help="list the unknown tools")
    args = parser.parse_args(argv)
    rows = coverage(args.gold, Catalog.default())
    print(f"{'file':40} {'tools':>5} {'known':>6} {'public':>6}  share")
    for name, total, known, public, missing in rows:
        share = known / total if total else 1.0
        print(f"{name[:40]:40} {total:5} {known:6} {public:6}  {share:.2f}")
        if args.missing and missing:
            print("    unknown: " + ", ".join(missing))
    total = sum(r[1] for r in rows)
    known = sum(r[2] for r in rows)
    public = sum(r[3] for r in rows)
    print(f"{'total':40} {total:5} {known:6} {public:6}  {known / max(total, 1):.2f}"
          f"  (public sources alone: {public / max(total, 1):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
