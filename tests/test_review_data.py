"""The analysis side of review: the tools_by_document view, Datasette's metadata.json (read by
a real Datasette server on 127.0.0.1), Stack.to_dataframe and the notebook view."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import lxml.html
import pytest
import sqlite_utils

from batch_helpers import make_document, make_stack
from conftest import CORPUS
from stackextract.store import Store

EXE = [sys.executable, "-m", "stackextract"]


def _db(path: Path, prefix: str = "") -> Path:
    with Store(path, prefix=prefix) as store:
        for i in range(3):
            doc = make_document(url=f"https://e{i}.example/stack", text=make_document().text
                                + f" Post {i}.")
            store.save(doc, make_stack(doc), config_key="k")
    return path


def test_tools_by_document_view_gives_each_tool_its_source(tmp_path: Path) -> None:
    db = sqlite_utils.Database(_db(tmp_path / "s.db", prefix="se_"))
    assert "se_tools_by_document" in db.view_names()
    rows = list(db.query("SELECT url, title, canonical, status, quote FROM se_tools_by_document"))
    assert len(rows) == 3 * 4
    assert {r["url"] for r in rows} == {f"https://e{i}.example/stack" for i in range(3)}
    assert all(r["title"] == "Our stack" and r["quote"] for r in rows)


def test_a_database_from_before_the_view_gets_it_on_open(tmp_path: Path) -> None:
    path = _db(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.execute("DROP VIEW tools_by_document")
    conn.commit()
    conn.close()
    Store(path).close()
    assert "tools_by_document" in sqlite_utils.Database(path).view_names()


def test_datasette_metadata_command_and_a_real_datasette(tmp_path: Path) -> None:
    if shutil.which("datasette", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("datasette not installed (it is in the dev extra)")
    db = _db(tmp_path / "stacks.db")
    meta = tmp_path / "metadata.json"
    proc = subprocess.run([*EXE, "datasette-metadata", "--db", str(db), "-o", str(meta)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(meta.read_text())
    tables = data["databases"]["stacks"]["tables"]
    names = set(sqlite_utils.Database(db).table_names()) | set(
        sqlite_utils.Database(db).view_names())
    assert set(tables) <= names  # every described table or view exists
    assert tables["tools"]["facets"] == ["status", "category"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = str(Path(sys.executable).parent / "datasette")
    server = subprocess.Popen([exe, "serve", str(db), "-m", str(meta), "-h", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/-/versions.json", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "datasette did not start"
                time.sleep(0.2)
        tools = httpx.get(f"{base}/stacks/tools.json", timeout=10).json()
        assert set(tools["facet_results"]) >= {"status", "category"}
        statuses = {f["value"] for f in tools["facet_results"]["status"]["results"]}
        assert statuses == {"uses", "used_previously"}
        page = httpx.get(f"{base}/stacks/tools_by_document", timeout=10).text
        assert "Tools by document" in page and "https://e0.example/stack" in page
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_datasette_metadata_refuses_another_tools_database(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    before = db.read_bytes()
    proc = subprocess.run([*EXE, "datasette-metadata", "--db", str(db), "-o",
                           str(tmp_path / "m.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert db.read_bytes() == before and not (tmp_path / "m.json").exists()


def test_stack_to_dataframe() -> None:
    pytest.importorskip("pandas")
    doc = make_document()
    stack = make_stack(doc)
    tools = stack.to_dataframe()
    assert list(tools.canonical) == [t.canonical for t in stack.tools]
    assert set(tools.source_url) == {doc.url} and set(tools.title) == {"Our stack"}
    vue = tools[tools.canonical == "Vue.js"].iloc[0]
    assert vue.grounded and vue.quote == "I would not pick Vue again"  # first grounded quote
    migrations = stack.to_dataframe("migrations")
    assert migrations[["from_tool", "to_tool"]].values.tolist() == [["MongoDB", "PostgreSQL"]]
    assert stack.model_copy(update={"regrets": []}).to_dataframe("regrets").empty
    with pytest.raises(ValueError):
        stack.to_dataframe("nope")


def test_notebook_view_marks_the_text_extract_attached() -> None:
    import stackextract

    stack = stackextract.extract(CORPUS / "06_wg2-jenkins-to-concourse-2019.md",
                                 backend="offline")
    html = stack._repr_html_()
    assert html.startswith('<iframe sandbox="allow-scripts" srcdoc="')
    inner = lxml.html.fromstring(lxml.html.fromstring(html).get("srcdoc"))
    grounded = sum(1 for kind in ("tools", "reasons", "regrets", "migrations")
                   for item in getattr(stack, kind) for e in item.evidence if e.grounded)
    assert len({m.get("data-span") for m in inner.iter("mark")}) == grounded
    assert inner.get_element_by_id("text").text_content() == stack.attached_text()
    # a Stack read back from JSON has no text: the quotes are shown on their own
    bare = type(stack).model_validate_json(stack.model_dump_json())
    assert bare == stack and bare.attached_text() is None
    inner = lxml.html.fromstring(lxml.html.fromstring(bare._repr_html_()).get("srcdoc"))
    assert "not attached" in inner.text_content()
    assert len(list(inner.iter("mark"))) == grounded


def test_review_stays_out_of_import_stackextract() -> None:
    code = ("import sys, stackextract; assert 'stackextract.review' not in sys.modules; "
            "assert callable(stackextract.review); import stackextract.review as r; "
            "assert r is stackextract.review and 'pandas' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_python_review_of_a_database(tmp_path: Path) -> None:
    import stackextract

    db = _db(tmp_path / "s.db")
    index = stackextract.review(db, tmp_path / "site")
    assert index == tmp_path / "site" / "index.html"
    assert len(list((tmp_path / "site" / "docs").glob("*.html"))) == 3


def test_review_of_a_shared_database_uses_the_prefix(tmp_path: Path) -> None:
    import stackextract
    from stackextract.errors import StoreError

    db = _db(tmp_path / "shared.db", prefix="se_")
    index = stackextract.review(db, tmp_path / "r.html", prefix="se_")
    assert index == tmp_path / "r.html"
    assert len(list((tmp_path / "r_docs").glob("*.html"))) == 3
    with pytest.raises(StoreError, match="no stackextract tables"):
        stackextract.review(db, tmp_path / "other.html")  # unprefixed: not ours
    dot = stackextract.review.graph_text(db, "mermaid", prefix="se_")
    assert dot.count("-->|3|") == 1  # MongoDB -> PostgreSQL in all three documents


def test_python_review_of_a_stack(tmp_path: Path) -> None:
    import stackextract

    stack = stackextract.extract(CORPUS / "06_wg2-jenkins-to-concourse-2019.md",
                                 backend="offline")
    out = stackextract.review(stack, tmp_path)  # a folder: review.html inside
    assert out == tmp_path / "review.html"
    dom = lxml.html.fromstring(out.read_text(encoding="utf-8"))
    assert dom.get_element_by_id("text").text_content() == stack.attached_text()
