"""Runs every SQL and Python example of docs/querying.md against a small database."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from batch_helpers import make_document, make_stack
from stackextract.store.database import Store

DOC = Path(__file__).resolve().parents[1] / "docs" / "querying.md"
BLOCKS = re.findall(r"```(sql|python)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
SQL = [code for lang, code in BLOCKS if lang == "sql"]
PYTHON = [code for lang, code in BLOCKS if lang == "python"]


@pytest.fixture
def db_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with Store(tmp_path / "stacks.db") as store:
        for i, url in enumerate(("https://a.example/stack", "https://b.example/stack")):
            doc = make_document(url=url, text=make_document().text + f" Part {i}.")
            store.save(doc, make_stack(doc), config_key="offline-1")
        store.record_failure(
            "https://c.example/gone", stage="fetch", error_type="FetchError", message="HTTP 404"
        )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_page_has_examples() -> None:
    assert len(SQL) >= 10 and len(PYTHON) >= 3


@pytest.mark.parametrize("query", SQL, ids=[f"sql{i}" for i in range(len(SQL))])
def test_sql_example_returns_rows(db_dir: Path, query: str) -> None:
    conn = sqlite3.connect(db_dir / "stacks.db")
    try:
        rows = conn.execute(query).fetchall()
    finally:
        conn.close()
    assert rows, f"no rows for:\n{query}"


@pytest.mark.parametrize("code", PYTHON, ids=[f"python{i}" for i in range(len(PYTHON))])
def test_python_example_runs(db_dir: Path, code: str, capsys: pytest.CaptureFixture[str]) -> None:
    if "import pandas" in code:
        pytest.importorskip("pandas")
    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(code, str(DOC), "exec"), namespace)
    if "matrix" in namespace:  # the pandas example: one row per writeup
        assert namespace["matrix"].shape[0] == 2  # type: ignore[attr-defined]
    if "hits" in namespace:
        assert namespace["hits"]
