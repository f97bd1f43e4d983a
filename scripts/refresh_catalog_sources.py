"""Write the small public-source extracts that scripts/build_catalog.py reads.

Each extract (scripts/catalog_sources/public/*.tsv) keeps only what the build needs: a name,
its aliases, the source's own category, and a popularity figure, with a header that pins the
source to a commit or list date and names its licence. The build itself never reads the
repositories; this script is run by hand when a source is to be refreshed.

    python scripts/refresh_catalog_sources.py --mirror DIR --packages DIR

`--mirror` is a folder holding bare git directories named OWNER+NAME/repo (one per source
repository); the PyPI and npm lists are the download-ranked package lists of the workplace
(`--packages`).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "scripts" / "catalog_sources" / "public"

REPOS = {
    "landscape": ("cncf/landscape", "Apache-2.0"),
    "linguist": ("github-linguist/linguist", "MIT"),
    "webappanalyzer": ("enthec/webappanalyzer", "GPL-3.0"),
    "awesome-python": ("vinta/awesome-python", "CC-BY-4.0"),
    "awesome-go": ("avelino/awesome-go", "MIT"),
    "awesome-rust": ("rust-unofficial/awesome-rust", "CC0-1.0"),
    "awesome-selfhosted": ("awesome-selfhosted/awesome-selfhosted", "CC-BY-SA-3.0"),
    "simple-icons": ("simple-icons/simple-icons", "CC0-1.0"),
    "awesome-ios": ("vsouza/awesome-ios", "MIT"),
    "awesome-swift": ("matteocrippa/awesome-swift", "CC0-1.0"),
    "awesome-java": ("akullpp/awesome-java", "CC-BY-SA-4.0"),
    "awesome-nodejs": ("sindresorhus/awesome-nodejs", "CC0-1.0"),
    "awesome-sysadmin": ("awesome-foss/awesome-sysadmin", "CC-BY-SA-4.0"),
    "awesome-shell": ("alebcay/awesome-shell", "CC0-1.0"),
    "awesome-elixir": ("h4cc/awesome-elixir", "MIT"),
}
# the file of an awesome-list that holds the plain "- [Name](url) - ..." items
READMES = {"awesome-java": "README_SOURCE.md", "awesome-nodejs": "readme.md"}
TOP_PYPI = 4000
TOP_NPM = 4000

_PYPI_RANK = "rank_among_15000_most_downloaded"
Row = tuple[str, list[str], str, float]


class _Repo:
    def __init__(self, mirror: Path, slug: str) -> None:
        self.git_dir = mirror / slug.replace("/", "+") / "repo"
        self.slug = slug
        self.commit = self._git("rev-parse", "HEAD").strip()

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args], check=True, capture_output=True,
            text=True,
        ).stdout

    def show(self, path: str) -> str:
        return self._git("show", f"{self.commit}:{path}")

    def ls(self, path: str) -> list[str]:
        return self._git("ls-tree", "--name-only", self.commit, path + "/").split()


def landscape(repo: _Repo) -> Iterator[Row]:
    """Items of the CNCF landscape; category 'Category / Subcategory'. Graduated and
    incubating CNCF projects count as more popular than the rest."""
    data = yaml.safe_load(repo.show("landscape.yml"))
    for cat in data["landscape"]:
        if cat["name"] in {"CNCF Members", "Special"}:
            continue  # companies and training partners, not tools
        for sub in cat.get("subcategories") or []:
            for item in sub.get("items") or []:
                project = item.get("project", "")
                pop = {"graduated": 0.9, "incubating": 0.8, "sandbox": 0.6}.get(project, 0.5)
                yield item["name"].strip(), [], f"{cat['name']} / {sub['name']}", pop


def linguist(repo: _Repo) -> Iterator[Row]:
    """Programming and markup languages with their aliases."""
    data = yaml.safe_load(repo.show("lib/linguist/languages.yml"))
    for name, info in data.items():
        kind = info.get("type", "")
        if kind not in {"programming", "markup", "data"}:
            continue
        aliases = [str(a) for a in info.get("aliases") or []]
        yield str(name), aliases, kind, 0.6 if kind == "programming" else 0.4


def webappanalyzer(repo: _Repo) -> Iterator[Row]:
    """Web technologies; the category is the first of the technology's category names."""
    cats = {k: v["name"] for k, v in json.loads(repo.show("src/categories.json")).items()}
    for path in repo.ls("src/technologies"):
        for name, info in json.loads(repo.show(path)).items():
            names = [cats[str(c)] for c in info.get("cats", []) if str(c) in cats]
            if names:
                yield name.strip(), [], "; ".join(names), 0.4


_ITEM = re.compile(r"^\s*[-*] \[([^\]]+)\]\(([^)]+)\)\s*[-–—:]")


def awesome(repo: _Repo, readme: str = "README.md") -> Iterator[Row]:
    """Linked list items of an awesome-list README; category: the headings above them."""
    heads: dict[int, str] = {}
    for line in repo.show(readme).splitlines():
        heading = re.match(r"^(#{2,4})\s+(.*)", line)
        if heading:
            level = len(heading.group(1))
            heads = {k: v for k, v in heads.items() if k < level}
            heads[level] = heading.group(2).strip()
            continue
        item = _ITEM.match(line)
        if not item or not heads:
            continue
        name = item.group(1).strip()
        if "/" in name:  # awesome-rust writes libraries as owner/repo
            name = name.rsplit("/", 1)[1]
        yield name, [], " / ".join(heads[k] for k in sorted(heads)), 0.4


def simple_icons(repo: _Repo) -> Iterator[Row]:
    """Brand names with their official spelling; no categories (the build uses it only to
    confirm names that another source brings)."""
    for icon in json.loads(repo.show("data/simple-icons.json")):
        aka = (icon.get("aliases") or {}).get("aka") or []
        yield icon["title"], [str(a) for a in aka], "", 0.5


def debian(paths: list[Path]) -> Iterator[Row]:
    """Debian packages installed on the workplace's machine images (confirmation only)."""
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0] == "apt" and not parts[1].startswith("lib"):
                yield parts[1].split(":")[0], [], "", 0.5


def pypi(path: Path) -> Iterator[Row]:
    """The most-downloaded PyPI projects (rank among the 15,000 most downloaded)."""
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r.get(_PYPI_RANK)]
    rows.sort(key=lambda r: int(r[_PYPI_RANK]))
    for rank, row in enumerate(rows[:TOP_PYPI], 1):
        popularity = round(1 - rank / (2 * TOP_PYPI), 3)
        yield row["name"], [], _keywords(row.get("summary") or ""), popularity


def npm(path: Path) -> Iterator[Row]:
    """The most-downloaded npm packages (downloads a month); scoped names are skipped."""
    rows = []
    with path.open(encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        for row in reader:
            if len(row) >= 3 and row[2].isdigit() and not row[0].startswith("@"):
                rows.append((int(row[2]), row[0], row[3] if len(row) > 3 else ""))
    rows.sort(key=lambda r: (-r[0], r[1]))
    for rank, (_, name, summary) in enumerate(rows[:TOP_NPM], 1):
        yield name, [], _keywords(summary), round(1 - rank / (2 * TOP_NPM), 3)


def _keywords(summary: str) -> str:
    """The words of a package summary that the build's category rules look at (the summary
    itself is not kept)."""
    from build_catalog import shared_category_patterns

    text = summary.lower()
    found = [m.group(0) for p in shared_category_patterns() for m in p.finditer(text)]
    return "; ".join(dict.fromkeys(found))


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def write(name: str, header: dict[str, str], rows: Iterator[Row]) -> int:
    """Write one extract, deduplicated by name, sorted, so that a refresh diff stays small."""
    seen: dict[str, Row] = {}
    for row in rows:
        key = _clean(row[0])
        if key and key not in seen:
            seen[key] = (key, row[1], row[2], row[3])
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [f"# {k}: {v}" for k, v in header.items()]
    lines.append("# name\taliases\tsource_category\tpopularity")
    for key in sorted(seen, key=lambda k: (k.casefold(), k)):
        n, aliases, cat, pop = seen[key]
        lines.append("\t".join([n, "; ".join(_clean(a) for a in aliases), _clean(cat)[:120],
                                f"{pop:g}"]))
    (OUT / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, required=True)
    parser.add_argument("--packages", type=Path, required=True,
                        help="folder with pypi.tsv, npm.tsv and installed-*.txt (Debian)")
    args = parser.parse_args(argv)
    readers = {
        "landscape": landscape, "linguist": linguist, "webappanalyzer": webappanalyzer,
        "awesome-python": awesome, "awesome-go": awesome, "awesome-rust": awesome,
        "awesome-selfhosted": awesome, "simple-icons": simple_icons,
    }
    for name, (slug, licence) in REPOS.items():
        repo = _Repo(args.mirror, slug)
        header = {"source": f"github.com/{slug}", "commit": repo.commit, "licence": licence}
        reader = readers.get(name)
        rows = reader(repo) if reader else awesome(repo, READMES.get(name, "README.md"))
        print(f"{name}: {write(name, header, rows)} names", file=sys.stderr)
    lists = sorted(args.packages.glob("installed-*.txt"))
    header = {"source": "Debian packages installed on the workplace images (not lib*)",
              "version": ", ".join(f"{p.name} of {_list_date(p)}" for p in lists),
              "licence": "package names (facts)"}
    print(f"debian: {write('debian', header, debian(lists))} names", file=sys.stderr)
    for name, reader, top in (("pypi", pypi, TOP_PYPI), ("npm", npm, TOP_NPM)):
        path = args.packages / f"{name}.tsv"
        header = {"source": f"{name} package list, {top} most downloaded",
                  "version": f"{path.name} of {_list_date(path)}",
                  "licence": "package names and summary keywords (facts)"}
        print(f"{name}: {write(name, header, reader(path))} names", file=sys.stderr)
    return 0


def _list_date(path: Path) -> str:
    import datetime

    return datetime.date.fromtimestamp(path.stat().st_mtime).isoformat()


if __name__ == "__main__":
    raise SystemExit(main())
