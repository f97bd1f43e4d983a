"""A database's review: an index page (the stack at a glance) plus one page per document.

Layout on disk (`-o` a directory, or a path ending in .html for the index):

    OUT/index.html        stack at a glance, migration graph, first page of the document list
    OUT/docs/<id>.html    one document (its latest extraction), self-contained
    OUT/docs/list-N.html  the document list, page N (PER_PAGE rows each)

Every page is one self-contained HTML file (inline CSS, one small inline script); pages link
to each other with relative links, so the folder can be zipped, served or opened offline.
Documents are read one at a time (streamed), so memory stays flat for large databases.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stackextract.errors import InputError
from stackextract.models import Stack, Status
from stackextract.review import graph as _graph
from stackextract.review._html import attr, esc, link, page, slug
from stackextract.review.page import counts, render_stack, stack_title

if TYPE_CHECKING:
    from stackextract.store import Store

PER_PAGE = 200
SHORT_LINKS_OVER = 40  # edges; above this the edge table links documents by number
TOP = 20
_STATUSES = [s.value for s in Status]


@dataclass
class DatabaseReview:
    """What was written, and the aggregates the index shows."""

    index: Path
    pages: list[Path] = field(default_factory=list)
    documents: int = 0
    graph: _graph.MigrationGraph = field(default_factory=_graph.MigrationGraph)


def layout(output: str | Path) -> tuple[Path, Path]:
    """(index file, documents folder) for an output path: `X.html` puts documents in
    `X_docs/` beside it; anything else is a folder holding index.html and docs/."""
    out = Path(output)
    if out.suffix.lower() in (".html", ".htm"):
        return out, out.with_name(out.stem + "_docs")
    return out / "index.html", out / "docs"


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}; choose another -o "
                         "path") from exc


def _rows(store: Store) -> list[tuple[int, str]]:
    q = store._q
    with store._errors("read documents"):
        cur = store.db.conn.execute(
            f"SELECT document_id, source FROM {q('latest_stacks')} ORDER BY extraction_id")
        return [(int(i), str(s)) for i, s in cur]


def _stream(store: Store) -> Iterator[tuple[int, str, Stack, str]]:
    q = store._q
    with store._errors("read documents"):
        cur = store.db.conn.execute(
            f"SELECT l.document_id, l.source, l.stack_json, d.text FROM {q('latest_stacks')} l "
            f"JOIN {q('documents')} d ON d.id = l.document_id ORDER BY l.extraction_id")
        for doc_id, source, raw, text in cur:
            yield int(doc_id), str(source), Stack.model_validate_json(raw), text


def _nav(links: list[tuple[str, str | None]]) -> str:
    parts = [f"<a href={attr(href)}>{esc(label)}</a>" for label, href in links if href]
    return '<nav class="pager">' + "".join(parts) + "</nav>"


def write_database_review(db: str | Path, output: str | Path, *, prefix: str = "",
                          per_page: int = PER_PAGE) -> DatabaseReview:
    """Write the index and one page per stored document (its latest extraction)."""
    from stackextract.store import Store

    index_path, docs_dir = layout(output)
    docs_rel = docs_dir.name
    index_from_doc = f"../{index_path.name}"
    store = Store(db, prefix=prefix, read_only=True)
    try:
        order = _rows(store)
        position = {doc_id: i for i, (doc_id, _) in enumerate(order)}
        result = DatabaseReview(index=index_path)
        used: Counter[str] = Counter()
        regretted: Counter[str] = Counter()
        regret_docs: Counter[str] = Counter()
        by_category: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        listing: list[str] = []
        for doc_id, source, stack, text in _stream(store):
            i = position[doc_id]
            prev_id = order[i - 1][0] if i > 0 else None
            next_id = order[i + 1][0] if i + 1 < len(order) else None
            nav = _nav([("← index", index_from_doc),
                        ("← previous", f"{prev_id}.html" if prev_id is not None else None),
                        ("next →", f"{next_id}.html" if next_id is not None else None)])
            path = docs_dir / f"{doc_id}.html"
            _write(path, render_stack(stack, text, nav=nav))
            result.pages.append(path)
            title = stack_title(stack)
            result.graph.add(str(doc_id), title, stack)
            seen: set[tuple[str, str]] = set()
            for t in stack.tools:
                key = (t.canonical, t.status.value)
                if key in seen:
                    continue
                seen.add(key)
                by_category[t.category.value][t.canonical][t.status.value] += 1
                if t.status is Status.uses:
                    used[t.canonical] += 1
            names = set()
            for r in stack.regrets:
                regretted[r.tool] += 1
                names.add(r.tool)
            for name in names:
                regret_docs[name] += 1
            listing.append(_doc_row(doc_id, source, stack, docs_rel))
        result.documents = len(listing)
        failures = len(store.failures())
    finally:
        store.close()
    pages = [listing[k:k + per_page] for k in range(0, len(listing), per_page)] or [[]]
    for n, rows in enumerate(pages[1:], 2):
        nav = _nav([("← index", index_from_doc),
                    ("← previous", f"list-{n - 1}.html" if n > 2 else index_from_doc),
                    ("next →", f"list-{n + 1}.html" if n < len(pages) else None)])
        body = (f'<header class="top">{nav}<h1>Documents, page {n} of {len(pages)}</h1>'
                f'</header><main class="index">{_doc_table(rows)}</main>')
        path = docs_dir / f"list-{n}.html"
        _write(path, page(f"Documents, page {n}", body.replace(f'href="{docs_rel}/',
                                                                  'href="')))
        result.pages.append(path)
    more = (f'<p><a href={attr(f"{docs_rel}/list-2.html")}>more documents →</a> '
            f"({len(pages)} pages of {per_page})</p>" if len(pages) > 1 else "")
    body = "".join([
        f'<header class="top"><h1>Stack review: {esc(Path(str(db)).name)}</h1>'
        f'<div class="meta">{result.documents} documents (latest extraction of each) · '
        f"{failures} recorded failures</div></header>",
        '<main class="index">',
        '<div class="cols"><section><h2>Most used tools</h2>',
        _counter_table(used, "documents using it", TOP),
        "</section><section><h2>Most regretted tools</h2>",
        _regret_table(regretted, regret_docs, TOP),
        "</section></div>",
        "<h2>Migrations (from → to, width = documents)</h2>",
        _graph.to_svg(result.graph),
        _edge_table(result.graph, docs_rel),
        _node_lists(result.graph, docs_rel),
        "<h2>Tools by category and status (documents)</h2>",
        _category_tables(by_category),
        f"<h2 id=\"documents\">Documents ({result.documents})</h2>",
        _doc_table(pages[0]),
        more,
        "</main>",
    ])
    _write(index_path, page(f"Stack review: {Path(str(db)).name}", body))
    return result


def _doc_row(doc_id: int, source: str, stack: Stack, docs_rel: str) -> str:
    c = counts(stack)
    url = stack.source.final_url or stack.source.url
    where = link(url) if url else esc(stack.source.path or source)
    ungrounded = c["tools"] - c["grounded"]
    return (f"<tr><td class=\"n\">{doc_id}</td><td><a href={attr(f'{docs_rel}/{doc_id}.html')}>"
            f"{esc(stack_title(stack))}</a><br><span class=\"quote\">{where}</span></td>"
            f"<td class=\"n\">{c['tools']}</td><td class=\"n\">{ungrounded}</td>"
            f"<td class=\"n\">{c['reasons']}</td><td class=\"n\">{c['regrets']}</td>"
            f"<td class=\"n\">{c['migrations']}</td></tr>")


def _doc_table(rows: list[str]) -> str:
    return ("<table class=\"docs\"><tr><th>#</th><th>document</th><th>tools</th><th>not found</th>"
            "<th>reasons</th><th>regrets</th><th>migrations</th></tr>" + "".join(rows)
            + "</table>")


def _counter_table(counter: Counter[str], label: str, top: int) -> str:
    rows = "".join(f"<tr><td>{esc(k)}</td><td class=\"n\">{v}</td></tr>"
                   for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
    return f"<table><tr><th>tool</th><th>{esc(label)}</th></tr>{rows}</table>"


def _regret_table(regrets: Counter[str], docs: Counter[str], top: int) -> str:
    rows = "".join(
        f"<tr><td>{esc(k)}</td><td class=\"n\">{v}</td><td class=\"n\">{docs[k]}</td></tr>"
        for k, v in sorted(regrets.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
    return f"<table><tr><th>tool</th><th>regrets</th><th>documents</th></tr>{rows}</table>"


def _doc_links(documents: list[tuple[str, str]], docs_rel: str, *, short: bool = False) -> str:
    """Links to document pages: titled, or (`short`) by number (the # column of the document
    list), which keeps the index small when hundreds of documents sit behind the graph."""
    if short:
        return " ".join(f"<a href={attr(f'{docs_rel}/{key}.html')}>{esc(key)}</a>"
                        for key, _ in documents)
    return ", ".join(f"<a href={attr(f'{docs_rel}/{key}.html')}>{esc(title)}</a>"
                     for key, title in documents)


def _edge_table(g: _graph.MigrationGraph, docs_rel: str) -> str:
    short = len(g.edges) > SHORT_LINKS_OVER
    rows = "".join(
        f"<tr id={attr(_graph.edge_id(e))} class=\"edge-row\"><td>{esc(e.from_tool)}</td>"
        f"<td>{esc(e.to_tool)}</td><td class=\"n\">{e.weight}</td>"
        f"<td>{_doc_links(e.documents, docs_rel, short=short)}</td></tr>"
        for e in g.sorted_edges())
    if not rows:
        return ""
    return ("<table class=\"edges lazy\"><tr><th>from</th><th>to</th><th>documents</th>"
            f"<th>which</th></tr>{rows}</table>")


def _node_lists(g: _graph.MigrationGraph, docs_rel: str) -> str:
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for e in g.sorted_edges():
        out.setdefault(e.from_tool, {"away": [], "to": []})["away"] += e.documents
        out.setdefault(e.to_tool, {"away": [], "to": []})["to"] += e.documents
    if not out:
        return ""
    items = []
    for name, d in out.items():
        away = dict.fromkeys(d["away"])
        to = dict.fromkeys(d["to"])
        bits = []
        if away:
            bits.append("moved away in " + _doc_links(list(away), docs_rel, short=True))
        if to:
            bits.append("moved to in " + _doc_links(list(to), docs_rel, short=True))
        items.append(f"<li id={attr(_graph.node_id(name))}><b>{esc(name)}</b>: "
                     + "; ".join(bits) + "</li>")
    return ("<h3>Documents by tool in the graph (by document number)</h3>"
            "<ul class=\"nodes lazy\">" + "".join(items) + "</ul>")


def _category_tables(by_category: dict[str, dict[str, Counter[str]]]) -> str:
    head = "".join(f"<th>{esc(s.replace('_', ' '))}</th>" for s in _STATUSES)
    out = ['<div class="cols lazy">']
    for category in sorted(by_category, key=lambda c: (-len(by_category[c]), c)):
        tools = by_category[category]
        rows = "".join(
            f"<tr><td>{esc(name)}</td>"
            + "".join(f"<td class=\"n\">{tools[name][s] or ''}</td>" for s in _STATUSES)
            + "</tr>"
            for name in sorted(tools, key=lambda n: (-sum(tools[n].values()), n.casefold())))
        out.append(f"<section id={attr('cat-' + slug(category))}><h3>{esc(category)} "
                   f"({len(tools)})</h3><table><tr><th>tool</th>{head}</tr>{rows}</table>"
                   "</section>")
    out.append("</div>")
    return "".join(out)


def summary(review: DatabaseReview) -> str:
    """One line for the terminal."""
    return json.dumps({"index": str(review.index), "documents": review.documents,
                       "migration_edges": len(review.graph.edges)})
