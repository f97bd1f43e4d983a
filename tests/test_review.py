"""`stackextract review`: pages checked in a real headless Chromium (DOM after scripts ran).

What is checked: one <mark> per grounded evidence span holding exactly the span's text,
marks and list items linked both ways, the migration graph's nodes and edges linking to the
documents behind them, and hostile page content rendered as text with nothing executed.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import lxml.html
import pytest

from batch_helpers import make_document, make_stack
from browser import ARTIFACTS, dump_dom, screenshot
from conftest import CORPUS, FIXTURES, HTML_PAGE
from stackextract.models import Document, Stack, Tool
from stackextract.store import Store

EXE = [sys.executable, "-m", "stackextract"]
HOSTILE = FIXTURES / "hostile" / "review-xss.html"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=180, cwd=cwd)


def extracted(source: Path) -> tuple[Document, Stack]:
    """The same offline extraction the CLI makes (deterministic), to know what to expect."""
    import stackextract

    document = stackextract.load(source)
    return document, stackextract.extract(document, backend="offline")


def spans_of(stack: Stack, text: str) -> list[tuple[str, str, int, int]]:
    """(kind, status-or-empty, start, end) of every grounded evidence the page must mark."""
    out = []
    status = {n.casefold(): t.status.value for t in stack.tools for n in (t.name, t.canonical)}
    groups: list[tuple[str, list]] = [("tool", stack.tools), ("reason", stack.reasons),
                                      ("regret", stack.regrets), ("migration", stack.migrations)]
    for kind, items in groups:
        for item in items:
            st = item.status.value if isinstance(item, Tool) else status.get(
                getattr(item, "tool", getattr(item, "from_tool", "")).casefold(), "")
            for ev in item.evidence:
                if ev.grounded and ev.start is not None and ev.end is not None:
                    assert 0 <= ev.start < ev.end <= len(text)
                    out.append((kind, st, ev.start, ev.end))
    return out


def marks_by_span(dom: lxml.html.HtmlElement) -> dict[str, list[lxml.html.HtmlElement]]:
    groups: dict[str, list[lxml.html.HtmlElement]] = defaultdict(list)
    for mark in dom.iter("mark"):
        groups[mark.get("data-span")].append(mark)
    return groups


def check_review_dom(dom: lxml.html.HtmlElement, document: Document, stack: Stack) -> None:
    text_div = dom.get_element_by_id("text")
    assert text_div.text_content() == document.text  # the whole text, unchanged
    expected = sorted(spans_of(stack, document.text))
    groups = marks_by_span(dom)
    assert len(groups) == len(expected)  # one highlight per evidence span
    ids = {el.get("id") for el in dom.iter() if el.get("id")}
    found = []
    for span_id, pieces in groups.items():
        first = pieces[0]
        assert first.get("id") == span_id  # the first piece carries the id
        assert all(p.get("data-kind") == first.get("data-kind") for p in pieces)
        marked = "".join(p.text_content() for p in pieces)
        kind, status = first.get("data-kind"), first.get("data-status")
        assert first.get("data-confidence")
        # mark -> item, and item -> mark
        item = dom.get_element_by_id(first.get("data-item"))
        assert item.tag == "li" and item.get("data-kind") == kind
        assert f"#{span_id}" in [a.get("href") for a in item.iter("a")]
        found.append((kind, status, marked))
    want = sorted((k, s, document.text[a:b]) for k, s, a, b in expected)
    assert sorted(found) == want  # each highlight holds its span's text, kind and status
    for a in dom.iter("a"):
        href = a.get("href", "")
        if href.startswith("#"):
            assert href[1:] in ids, href  # no dangling anchors


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("corpus") / "stacks.db"
    proc = run("batch", str(CORPUS), "--db", str(db), "--backend", "offline", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return db


def test_single_source_review_marks_every_span_in_chromium(tmp_path: Path) -> None:
    out = tmp_path / "x1.html"
    proc = run("review", str(HTML_PAGE), "-o", str(out), "--backend", "offline")
    assert proc.returncode == 0, proc.stderr
    assert "source review" in proc.stderr
    document, stack = extracted(HTML_PAGE)
    assert len(spans_of(stack, document.text)) > 20
    dom = lxml.html.fromstring(dump_dom(out))
    check_review_dom(dom, document, stack)
    assert dom.findtext(".//title") == f"Review: {document.title}"
    for mark in dom.iter("mark"):  # faded exactly when below the threshold
        low = float(mark.get("data-confidence")) < 0.65
        assert ("low" in (mark.get("class") or "")) == low


def test_low_confidence_and_ungrounded_items_are_shown_apart() -> None:
    from stackextract.review import render_stack

    doc = make_document()
    stack = make_stack(doc)
    stack.tools[1].confidence = 0.55  # Redis: faded
    stack.reasons[0].evidence[0].grounded = False  # the reason's only quote: not found
    stack.provenance.dropped_items = 2
    dom = lxml.html.fromstring(render_stack(stack, doc.text))
    redis = dom.get_element_by_id("tool-1")
    assert redis.get("class") == "low" and "0.55" in redis.text_content()
    pieces = dom.xpath("//mark[@data-item='tool-1']")  # split: it crosses tool-0's span
    assert len(pieces) == 2 and {m.get("class") for m in pieces} == {"low"}
    assert "".join(m.text_content() for m in pieces) == "Postgres and Redis"
    apart = dom.get_element_by_id("ungrounded")
    assert [li.get("id") for li in apart.iter("li")] == ["reason-0"]
    assert "2 item(s) dropped" in apart.text_content()
    assert dom.xpath("//mark[@data-item='reason-0']") == []
    vue = dom.get_element_by_id("tool-3")  # one quote found, one not: both said
    assert "not found in the text: not in the text" in vue.text_content()


def test_screenshot_of_a_bundled_writeup_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    source = CORPUS / "06_wg2-jenkins-to-concourse-2019.md"
    proc = run("review", str(source), "-o", str(out), "--backend", "offline")
    assert proc.returncode == 0, proc.stderr
    png = screenshot(out, tmp_path / "review.png", size="1280,900")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 30_000  # a blank or unstyled page compresses to a few kB
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "review-06_wg2-jenkins-to-concourse.png")
    shutil.copy(out, ARTIFACTS / "review-06_wg2-jenkins-to-concourse.html")


def _assert_nothing_ran(dom: lxml.html.HtmlElement, title: str) -> None:
    assert dom.findtext(".//title") == title  # no script changed the title
    body = dom.find(".//body")
    assert body.get("data-pwned") is None
    assert dom.xpath("//*[@id='pwned']") == []
    assert dom.xpath("//img | //svg[@onload] | //*[@onerror] | //*[@onload] | //textarea") == []
    assert len(dom.xpath("//script")) == 1  # our own click handler only
    for a in dom.iter("a"):
        href = a.get("href", "")
        assert href.startswith(("#", "http://", "https://")) or href.endswith(".html"), href


def test_hostile_writeup_renders_as_text_and_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "hostile.html"
    proc = run("review", str(HOSTILE), "-o", str(out), "--backend", "offline")
    assert proc.returncode == 0, proc.stderr
    document, stack = extracted(HOSTILE)
    assert "<script>" in document.text and "</style>" in document.text
    dom = lxml.html.fromstring(dump_dom(out))
    _assert_nothing_ran(dom, f"Review: {document.title}")
    check_review_dom(dom, document, stack)  # the hostile markup is there, as text
    page_text = dom.get_element_by_id("text").text_content()
    for needle in ('<script>document.title = "PWNED"', "onerror=", "javascript:", "</style>",
                   "</textarea><svg onload="):
        assert needle in page_text
    assert dom.findtext(".//h1") == document.title


def test_the_hostility_check_sees_a_script_that_runs(tmp_path: Path) -> None:
    """Control: the same payload pasted unescaped does run, so the checks above can fail."""
    document, _ = extracted(HOSTILE)
    raw = tmp_path / "raw.html"
    raw.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body><p>"
                   f"{document.text}</p></body></html>", encoding="utf-8")
    dom = lxml.html.fromstring(dump_dom(raw))
    with pytest.raises(AssertionError):
        _assert_nothing_ran(dom, "t")
    assert dom.findtext(".//title") == "PWNED" or dom.find(".//body").get("data-pwned")


def test_hostile_database_rows_render_as_text(tmp_path: Path) -> None:
    db = tmp_path / "hostile.db"
    evil = '<img src=x onerror="document.body.setAttribute(\'data-pwned\',\'db\')">'
    doc = Document(url="javascript:document.title='PWNED'", text=make_document().text + evil,
                   title=f"</title><script>x</script>{evil}", author=evil, format="html")
    stack = make_stack(doc, company=evil)
    stack.tools[0].name = f"Postgres{evil}"
    stack.tools[0].canonical = "PostgreSQL</style><script>document.title='PWNED'</script>"
    stack.migrations[0].to_tool = f'PostgreSQL"><a href="javascript:alert(1)">{evil}'
    with Store(db) as store:
        store.save(doc, stack, config_key="k")
    out = tmp_path / "site"
    proc = run("review", str(db), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    index = lxml.html.fromstring(dump_dom(out / "index.html"))
    _assert_nothing_ran(index, "Stack review: hostile.db")
    assert evil in index.text_content()
    pages = list((out / "docs").glob("*.html"))
    assert len(pages) == 1
    page = lxml.html.fromstring(dump_dom(pages[0]))
    _assert_nothing_ran(page, f"Review: {doc.title}")
    assert stack.tools[0].canonical in page.text_content()
    assert "javascript:document.title" in page.text_content()  # shown, not linked
    check_review_dom(page, doc, stack)


def test_database_review_index_graph_and_pages(corpus_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    proc = run("review", str(corpus_db), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(corpus_db)
    try:
        doc_ids = [r[0] for r in conn.execute("SELECT document_id FROM latest_stacks")]
        pairs = {(a.casefold(), b.casefold()): n for a, b, n in conn.execute(
            "SELECT from_tool, to_tool, documents FROM migration_pairs")}
        texts = dict(conn.execute("SELECT id, text FROM documents"))
        stacks = {i: Stack.model_validate_json(raw) for i, raw in conn.execute(
            "SELECT document_id, stack_json FROM latest_stacks")}
    finally:
        conn.close()
    assert len(doc_ids) == len(list(CORPUS.glob("*.*"))) and pairs
    assert sorted(p.stem for p in (out / "docs").glob("*.html")) == sorted(map(str, doc_ids))
    dom = lxml.html.fromstring(dump_dom(out / "index.html"))
    ids = {el.get("id") for el in dom.iter() if el.get("id")}
    edges = dom.xpath("//svg//a[@class='edge']")
    assert len(edges) == min(len(pairs), 60)
    for edge in edges:
        key = (edge.get("data-from").casefold(), edge.get("data-to").casefold())
        assert int(edge.get("data-weight")) == pairs[key]  # weight = documents, as the view
        row = dom.get_element_by_id(edge.get("href")[1:])
        links = [a.get("href") for a in row.iter("a")]
        assert len(links) == pairs[key]
        for href in links:  # each document behind the edge has the migration
            doc_id = int(Path(href).stem)
            assert (out / href).is_file()
            assert any((m.from_tool.casefold(), m.to_tool.casefold()) == key
                       for m in stacks[doc_id].migrations)
    nodes = dom.xpath("//svg//a[@class='node']")
    assert nodes and all(n.get("href")[1:] in ids for n in nodes)
    listed = dom.xpath("//table[@class='docs']//tr/td[2]/a/@href")
    assert len(listed) == len(doc_ids)
    # one document page, fully checked against its stored text and stack
    doc_id = next(i for i in doc_ids if stacks[i].migrations)
    page = lxml.html.fromstring(dump_dom(out / "docs" / f"{doc_id}.html"))
    stored = Document(text=texts[doc_id])
    check_review_dom(page, stored, stacks[doc_id])
    assert page.xpath("//nav//a/@href")[0] == "../index.html"


def test_database_review_paginates_the_document_list(tmp_path: Path) -> None:
    from stackextract.review import write_database_review

    db = tmp_path / "many.db"
    with Store(db) as store:
        for i in range(7):
            doc = make_document(url=f"https://e{i}.example/stack",
                                text=make_document().text + f" Post {i}.")
            store.save(doc, make_stack(doc), config_key="k")
    result = write_database_review(db, tmp_path / "r.html", per_page=3)
    assert result.index == tmp_path / "r.html" and result.documents == 7
    docs = tmp_path / "r_docs"
    assert (docs / "list-2.html").is_file() and (docs / "list-3.html").is_file()
    assert not (docs / "list-4.html").exists()
    index = lxml.html.fromstring((tmp_path / "r.html").read_text())
    assert len(index.xpath("//table[@class='docs']//tr/td[2]/a")) == 3
    page3 = lxml.html.fromstring((docs / "list-3.html").read_text())
    hrefs = page3.xpath("//table[@class='docs']//tr/td[2]/a/@href")
    assert len(hrefs) == 1 and (docs / hrefs[0]).is_file()
    edge = result.graph.edges[("mongodb", "postgresql")]
    assert edge.weight == 7


def test_graph_as_dot_and_mermaid(corpus_db: Path, tmp_path: Path) -> None:
    conn = sqlite3.connect(corpus_db)
    pairs = conn.execute("SELECT from_tool, to_tool, documents FROM migration_pairs").fetchall()
    conn.close()
    dot = run("review", str(corpus_db), "--graph", "dot")
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.startswith("digraph migrations {")
    for a, b, n in pairs:
        assert f'"{a}" -> "{b}" [label="{n}"' in dot.stdout
    mermaid = run("review", str(corpus_db), "--graph", "mermaid", "-o", str(tmp_path / "g.mmd"))
    assert mermaid.returncode == 0, mermaid.stderr
    text = (tmp_path / "g.mmd").read_text()
    assert text.startswith("flowchart LR")
    assert sum(1 for line in text.splitlines() if "-->|" in line) == len(pairs)


def test_graph_ids_stay_distinct_for_names_with_the_same_slug() -> None:
    from stackextract.review import graph

    doc = make_document()
    stacks = []
    for name in ("C", "C++", "C#"):
        stack = make_stack(doc)
        stack.migrations[0].from_tool = name
        stacks.append((name, name, stack))
    g = graph.build(stacks)
    assert len({graph.node_id(n) for n in g.nodes()}) == 4
    assert len({graph.edge_id(e) for e in g.sorted_edges()}) == 3


def test_graph_text_escapes_names() -> None:
    from stackextract.review import graph

    doc = make_document()
    stack = make_stack(doc)
    stack.migrations[0].from_tool = 'Mongo"DB\\ <x> | #1'
    g = graph.build([("1", "t", stack)])
    assert '"Mongo\\"DB\\\\ <x> | #1" -> "PostgreSQL"' in graph.to_dot(g)
    mermaid = graph.to_mermaid(g)
    assert 'n0["Mongo#quot;DB\\ #lt;x#gt; #124; #35;1"]' in mermaid
    assert "<x>" not in mermaid


def test_review_errors_are_one_line(tmp_path: Path) -> None:
    missing = run("review", str(tmp_path / "nope.html"), "-o", str(tmp_path / "o.html"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr
    db = tmp_path / "other.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    other = run("review", str(db), "-o", str(tmp_path / "site"))
    assert other.returncode == 2 and "holds no stackextract tables" in other.stderr
    assert other.stderr.count("\n") == 1
    no_output = run("review", str(HTML_PAGE))
    assert no_output.returncode == 2 and "-o" in no_output.stderr


def test_graph_of_one_source_and_help() -> None:
    source = CORPUS / "06_wg2-jenkins-to-concourse-2019.md"
    proc = run("review", str(source), "--graph", "mermaid", "--backend", "offline")
    assert proc.returncode == 0, proc.stderr
    _, stack = extracted(source)
    lines = [line for line in proc.stdout.splitlines() if "-->|1|" in line]
    assert len(lines) == len({(m.from_tool, m.to_tool) for m in stack.migrations}) >= 1
    assert '["Jenkins"]' in proc.stdout and '["Concourse"]' in proc.stdout
    helped = run("review", "--help")
    assert "--graph" in helped.stdout and "database" in helped.stdout
