"""The command line, run as a real subprocess: what a user types, what a user sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import sqlite_utils

from conftest import CORPUS, HTML_PAGE, ROOT

EXE = [sys.executable, "-m", "stackextract"]


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, input=stdin,
                          cwd=cwd, timeout=120)


def test_extract_json_validates_against_the_schema_and_is_grounded() -> None:
    proc = run("extract", str(HTML_PAGE), "--json", "--backend", "offline")
    assert proc.returncode == 0, proc.stderr
    stack = json.loads(proc.stdout)
    schema = json.loads((ROOT / "schemas" / "stack.schema.json").read_text())
    jsonschema.validate(stack, schema)
    assert stack["source"]["title"] == "Mercurial's Journey to and Reflections on Python 3"
    names = {t["canonical"] for t in stack["tools"]}
    assert {"Python", "Rust"} <= names
    for tool in stack["tools"]:
        assert any(e["grounded"] for e in tool["evidence"]), tool
    for kind in ("reasons", "regrets", "migrations"):
        for item in stack[kind]:
            assert all(e["grounded"] for e in item["evidence"]), item


def test_extract_prints_a_table_and_stores(tmp_path: Path) -> None:
    db = tmp_path / "one.db"
    proc = run("extract", str(CORPUS / "06_wg2-jenkins-to-concourse-2019.md"), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert "Concourse" in proc.stdout and "Tools" in proc.stdout
    assert "backend:" not in proc.stderr  # offline by default: nothing to announce
    again = run("extract", str(CORPUS / "06_wg2-jenkins-to-concourse-2019.md"), "--db", str(db))
    assert "already there" in again.stderr
    assert sqlite_utils.Database(db)["extractions"].count == 1


def test_stdin_is_a_source() -> None:
    text = "Our stack\n\nWe use PostgreSQL and Redis. We moved from Jenkins to GitHub Actions.\n"
    proc = run("extract", "-", "--json", "--backend", "offline", stdin=text)
    assert proc.returncode == 0, proc.stderr
    stack = json.loads(proc.stdout)
    assert {"PostgreSQL", "Redis", "GitHub Actions"} <= {t["canonical"] for t in stack["tools"]}
    assert [(m["from_tool"], m["to_tool"]) for m in stack["migrations"]] == [
        ("Jenkins", "GitHub Actions")
    ]


def test_clean_prints_text_and_metadata() -> None:
    proc = run("clean", str(HTML_PAGE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("title: Mercurial's Journey")
    assert "author: Gregory Szorc" in proc.stdout


def test_batch_over_the_corpus_twice_adds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "stacks.db"
    first = run("batch", str(CORPUS), "--db", str(db), "--backend", "offline", "--no-progress")
    assert first.returncode == 0, first.stderr
    database = sqlite_utils.Database(db)
    counts = {t: database[t].count for t in database.table_names() if "_fts" not in t}
    assert counts["documents"] == len(list(CORPUS.glob("*.*")))
    assert counts["tools"] > 100
    second = run("batch", str(CORPUS), "--db", str(db), "--backend", "offline", "--no-progress")
    assert second.returncode == 0, second.stderr
    database = sqlite_utils.Database(db)
    assert counts == {t: database[t].count for t in database.table_names() if "_fts" not in t}


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    missing = run("extract", str(tmp_path / "nope.md"))
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0
    assert "no such file" in missing.stderr and "Traceback" not in missing.stderr
    binary = tmp_path / "x.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    proc = run("extract", str(binary))
    assert proc.returncode == 2 and "binary" in proc.stderr
    usage = run("extract")
    assert usage.returncode == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    proc = run("extract", str(empty))
    assert proc.returncode == 1 and "empty" in proc.stderr and "Traceback" not in proc.stderr


def test_schema_check_passes_on_the_committed_files() -> None:
    proc = run("schema", "--check", str(ROOT / "schemas"))
    assert proc.returncode == 0, proc.stderr


def test_schema_check_fails_on_stale_files(tmp_path: Path) -> None:
    (tmp_path / "stack.schema.json").write_text("{}")
    proc = run("schema", "--check", str(tmp_path))
    assert proc.returncode == 1 and "stale" in proc.stderr


def test_gold_files_follow_the_gold_schema(gold_dir: Path) -> None:
    schema = json.loads((ROOT / "schemas" / "gold.schema.json").read_text())
    files = sorted(gold_dir.glob("*.json"))
    assert files
    for path in files:
        jsonschema.validate(json.loads(path.read_text()), schema)
