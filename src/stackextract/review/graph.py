"""The migration graph across documents: from -> to, weighted by the number of documents.

Given (document, Stack) pairs it gives the edges, and draws them as Graphviz DOT, Mermaid
text or inline SVG (two columns, "from" on the left and "to" on the right, every node and
edge a link to the documents behind it). Tool names are matched case-insensitively; the first
spelling seen is shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stackextract.models import Stack
from stackextract.review._html import attr, esc, slug

MAX_SVG_EDGES = 60  # the heaviest edges are drawn; the table below the graph lists them all


@dataclass
class Edge:
    from_tool: str
    to_tool: str
    documents: list[tuple[str, str]] = field(default_factory=list)  # (doc key, title)

    @property
    def weight(self) -> int:
        return len(self.documents)


@dataclass
class MigrationGraph:
    """Edges keyed by (from, to) casefolded; each document counts once per edge."""

    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def _name(self, tool: str) -> str:
        return self.names.setdefault(" ".join(tool.split()).casefold(), " ".join(tool.split()))

    def add(self, key: str, title: str, stack: Stack) -> None:
        seen: set[tuple[str, str]] = set()
        for m in stack.migrations:
            a, b = self._name(m.from_tool), self._name(m.to_tool)
            k = (a.casefold(), b.casefold())
            if not a or not b or k in seen:
                continue
            seen.add(k)
            self.edges.setdefault(k, Edge(a, b)).documents.append((key, title))

    def sorted_edges(self) -> list[Edge]:
        return sorted(self.edges.values(),
                      key=lambda e: (-e.weight, e.from_tool.casefold(), e.to_tool.casefold()))

    def nodes(self) -> list[str]:
        out: dict[str, None] = {}
        for e in self.sorted_edges():
            out.setdefault(e.from_tool)
            out.setdefault(e.to_tool)
        return list(out)


def build(pairs: Iterable[tuple[str, str, Stack]]) -> MigrationGraph:
    """The graph of (doc key, title, stack) triples."""
    graph = MigrationGraph()
    for key, title, stack in pairs:
        graph.add(key, title, stack)
    return graph


def _dot_quote(value: str) -> str:
    return '"' + " ".join(value.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: MigrationGraph) -> str:
    """Graphviz DOT; edge labels and penwidth give the number of documents."""
    lines = ["digraph migrations {", "  rankdir=LR;", '  node [shape=box, fontname="sans-serif"];']
    for node in graph.nodes():
        lines.append(f"  {_dot_quote(node)};")
    for e in graph.sorted_edges():
        lines.append(f"  {_dot_quote(e.from_tool)} -> {_dot_quote(e.to_tool)} "
                     f'[label="{e.weight}", penwidth={1 + min(e.weight, 9) / 2:g}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_label(value: str) -> str:
    text = " ".join(value.split())
    for ch, entity in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"),
                       ("|", "#124;"), ("`", "#96;")):
        text = text.replace(ch, entity)
    return '"' + text + '"'


def to_mermaid(graph: MigrationGraph) -> str:
    """Mermaid flowchart text; node ids are n0, n1, ... and names are quoted labels."""
    ids = {name: f"n{i}" for i, name in enumerate(graph.nodes())}
    lines = ["flowchart LR"]
    for name, ident in ids.items():
        lines.append(f"  {ident}[{_mermaid_label(name)}]")
    for e in graph.sorted_edges():
        lines.append(f"  {ids[e.from_tool]} -->|{e.weight}| {ids[e.to_tool]}")
    return "\n".join(lines) + "\n"


def _tag(*names: str) -> str:
    """A short digest, so that names with the same slug (C, C++, C#) get distinct ids."""
    key = "\x00".join(" ".join(n.split()).casefold() for n in names)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:8]


def edge_id(e: Edge) -> str:
    return f"mig-{slug(e.from_tool)}--{slug(e.to_tool)}-{_tag(e.from_tool, e.to_tool)}"


def node_id(name: str) -> str:
    return f"node-{slug(name)}-{_tag(name)}"


def _order(edges: list[Edge], left: dict[str, int],
           right: dict[str, int]) -> tuple[list[str], list[str]]:
    """Column orders with few crossings: heaviest first, then a few barycentre sweeps (each
    node moves to the mean row of its neighbours on the other side)."""
    lorder = sorted(left, key=lambda n: (-left[n], n.casefold()))
    rorder = sorted(right, key=lambda n: (-right[n], n.casefold()))
    for _ in range(4):
        for fixed, moving, a, b in ((lorder, rorder, 0, 1), (rorder, lorder, 1, 0)):
            row = {n: i for i, n in enumerate(fixed)}
            sums: dict[str, list[float]] = {}
            for e in edges:
                ends = (e.from_tool, e.to_tool)
                sums.setdefault(ends[b], []).append(row[ends[a]])
            moving.sort(key=lambda n: (sum(sums[n]) / len(sums[n]), n.casefold()))
    return lorder, rorder


def to_svg(graph: MigrationGraph, *, href: Callable[[str], str] | None = None) -> str:
    """Inline SVG: sources left, targets right, stroke width by weight. Nodes and edges link
    to `href(anchor id)` (default: `#anchor` on the same page)."""
    edges = graph.sorted_edges()[:MAX_SVG_EDGES]
    if not edges:
        return '<p class="conf">No migrations found.</p>'
    link = href or (lambda anchor: "#" + anchor)
    left: dict[str, int] = {}
    right: dict[str, int] = {}
    for e in edges:
        left[e.from_tool] = left.get(e.from_tool, 0) + e.weight
        right[e.to_tool] = right.get(e.to_tool, 0) + e.weight
    lorder, rorder = _order(edges, left, right)
    row, top, box_w, width = 26, 14, 170, 760
    height = top * 2 + row * max(len(lorder), len(rorder))
    ly = {n: top + i * row + row // 2 for i, n in enumerate(lorder)}
    ry = {n: top + i * row + row // 2 for i, n in enumerate(rorder)}
    heaviest = max(e.weight for e in edges)
    x1, x2 = 10 + box_w, width - 10 - box_w
    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             'aria-label="migration graph">']
    for e in edges:
        y1, y2 = ly[e.from_tool], ry[e.to_tool]
        w = 1.5 + 6.5 * e.weight / heaviest
        mid = (x1 + x2) / 2
        tip = f"{e.from_tool} → {e.to_tool}: {e.weight} document(s)"
        parts.append(
            f'<a href={attr(link(edge_id(e)))} class="edge" data-from={attr(e.from_tool)} '
            f'data-to={attr(e.to_tool)} data-weight="{e.weight}"><title>{esc(tip)}</title>'
            f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" '
            f'stroke="#ef6c00" stroke-opacity=".55" stroke-width="{w:.1f}"/></a>')
    for side, order, ys, x in (("from", lorder, ly, 10), ("to", rorder, ry, x2)):
        for n in order:
            y = ys[n]
            label = n if len(n) <= 24 else n[:23] + "…"
            parts.append(
                f'<a href={attr(link(node_id(n)))} class="node" data-side="{side}" '
                f'data-name={attr(n)}><title>{esc(n)}</title>'
                f'<rect x="{x}" y="{y - 10}" width="{box_w}" height="20" rx="3" '
                f'fill="#fff3e0" stroke="#ef6c00"/>'
                f'<text x="{x + 6}" y="{y + 4}">{esc(label)}</text></a>')
    parts.append("</svg>")
    return "".join(parts)
