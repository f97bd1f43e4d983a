"""The second round of hostile input, command line (issue 15): page text that is rich markup,
malformed user catalogs, a corrupt stack_json row at export, a table prefix with a newline.
Every run is a real subprocess; every database a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from fault_helpers import copy_corpus, env, error_line
from stackextract.errors import StoreError
from stackextract.store.database import Store

MARKUP = {
    "closing": "We use Django and PostgreSQL [/].",
    "link": "We use Django [link=https://evil.example/x]click here[/link] on PostgreSQL.",
    "style": "[bold red on white blink]We use Django[/] and PostgreSQL.",
    "unbalanced": "We use Django [/bold] and PostgreSQL [i] [/].",
}


def _run(*args: Any, stdin: str | None = None, extra: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackextract", *map(str, args)],
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=env(**(extra or {})))


# --- 10. terminal markup injection -------------------------------------------------------


@pytest.mark.parametrize("text", MARKUP.values(), ids=MARKUP.keys())
def test_page_text_is_printed_as_written_never_as_markup(tmp_path: Path, text: str) -> None:
    page = f"[bold]Stack[/bold] of [link=https://evil.example]Acme[/link]\n\n{text}\n"
    db = tmp_path / "s.db"
    # a terminal as rich sees it: colours and hyperlinks would be emitted
    proc = _run("extract", "-", "--backend", "offline", "--db", db, stdin=page,
                extra={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "\x1b]8;" not in proc.stdout  # no hyperlink from the page reached the terminal
    assert "\x1b[5" not in proc.stdout  # nor its blink
    plain = _run("extract", "-", "--backend", "offline", stdin=page,
                 extra={"COLUMNS": "300"}).stdout
    assert "[bold]Stack[/bold] of [link=https://evil.example]Acme[/link]" in plain
    assert "Django" in plain
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM extractions").fetchone() == (1,)


# --- 11. malformed user catalogs ---------------------------------------------------------

CATALOGS: dict[str, bytes] = {
    "ints": b"[1, 2, 3]",
    "nulls": b"[null]",
    "aliases-string": json.dumps([{"name": "Acme DB", "aliases": "abc"}]).encode(),
    "aliases-ints": json.dumps([{"name": "Acme DB", "aliases": [1, 2]}]).encode(),
    "name-null": json.dumps([{"name": None, "category": "database"}]).encode(),
    "name-int": json.dumps([{"name": 7}]).encode(),
    "category-list": json.dumps([{"name": "Acme DB", "category": ["database"]}]).encode(),
    "flag-string": json.dumps([{"name": "Acme DB", "ambiguous": "yes"}]).encode(),
    "tools-int": json.dumps({"tools": 5}).encode(),
    "bad-utf8": b'[{"name": "Acme \xff\xfe DB"}]',
    "deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("name", CATALOGS, ids=CATALOGS.keys())
def test_a_malformed_catalog_is_one_config_error(tmp_path: Path, name: str) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_bytes(CATALOGS[name])
    doc = copy_corpus(tmp_path / "docs", 1)[0]
    db = tmp_path / "s.db"
    runs: list[list[Any]] = [["extract", doc]]
    if name in ("aliases-string", "bad-utf8", "deep"):  # the batch loads it the same way
        runs.append(["batch", doc, "--db", db, "--no-progress"])
    for args in runs:
        proc = _run(*args, "--backend", "offline", "--catalog", catalog)
        assert proc.returncode == 2, proc.stderr
        line = error_line(proc)
        assert line.startswith("error: config: ") and "catalog" in line, line
    assert not db.exists() or _count(db, "documents") == 0


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


# --- 11. export skips a corrupt row ------------------------------------------------------


@pytest.mark.parametrize("corruption", ["not json", '{"tools": 5}', "", "[" * 100_000,
                                        b"x\x9c damaged zlib", zlib.compress(b'{"tools": 5}')])
def test_export_skips_and_reports_a_corrupt_stack_json(
    tmp_path: Path, corruption: str | bytes
) -> None:
    docs = copy_corpus(tmp_path / "docs", 3)
    db = tmp_path / "s.db"
    proc = _run("batch", *docs, "--db", db, "--backend", "offline", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE extractions SET stack_json = ? WHERE id = 2", (corruption,))
    out = tmp_path / "out.jsonl"
    proc = _run("export", "--db", db, "-o", out)
    assert proc.returncode == 1, proc.stderr
    line = error_line(proc)
    assert "skipped 1 row(s) whose stack_json is not a valid Stack (extraction id 2)" in line
    assert "exported 2 stacks" in proc.stderr
    assert len(out.read_text().splitlines()) == 2
    assert _count(db, "extractions") == 3  # nothing changed in the database
    proc = _run("export", "--db", db, "--all")
    assert proc.returncode == 1 and len(proc.stdout.splitlines()) == 2


# --- 11. the table prefix is matched whole ------------------------------------------------


@pytest.mark.parametrize("prefix", ["se_\n", "se_\r\n", "a b", "x;DROP", "é", "se_\x00"])
def test_a_prefix_with_a_newline_or_other_character_is_refused(tmp_path: Path,
                                                              prefix: str) -> None:
    with pytest.raises(StoreError, match="invalid table prefix"):
        Store(tmp_path / "s.db", prefix=prefix)
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone() == (0,)
