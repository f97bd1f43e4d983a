"""Small things a user trips over (issue 16), each through the real command."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import click

from batch_helpers import PageServer, make_document, make_stack
from conftest import CORPUS, HTML_PAGE, ROOT
from stackextract.batch import runner
from stackextract.store.database import Store

EXE = [sys.executable, "-m", "stackextract"]
cli = importlib.import_module("stackextract.cli.main")


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, input=stdin,
                          timeout=120, env={**os.environ, **(env or {})})


def test_export_into_head_exits_quietly(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(db) as store:
        for i in range(300):  # far more than a pipe buffer holds
            doc = make_document(url=f"https://example.com/{i}", text=f"{i} " * 50 + "Postgres")
            store.save(doc, make_stack(doc), config_key="k")
    proc = subprocess.run(
        f"{sys.executable} -m stackextract export --db {db} | head -n 1",
        shell=True, capture_output=True, text=True, timeout=120,
    )
    assert proc.stdout.count("\n") == 1
    assert "BrokenPipe" not in proc.stderr and "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr


def test_batch_reads_a_url_list_from_stdin(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with PageServer() as server:
        urls = "\n".join([server.url(0), server.url(1), "# a comment", "not a url"]) + "\n"
        proc = run("batch", "-", "--db", str(db), "--allow-private", "--no-progress",
                   stdin=urls)
        assert server.hits["/page/0"] == 1 and server.hits["/page/1"] == 1
    assert proc.returncode == 1, proc.stderr  # the invalid line is a recorded failure
    assert "3 sources: 2 extracted" in proc.stderr
    with Store(db) as store:
        assert [f["source"] for f in store.failures()] == ["not a url"]


def test_debug_is_accepted_after_the_verb(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.md")
    plain = run("extract", missing)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    after = run("extract", missing, "--debug")
    assert "No such option" not in after.stderr
    assert "Traceback" in after.stderr and after.returncode != 0
    before = run("--debug", "extract", missing)
    assert "Traceback" in before.stderr


def test_min_confidence_outside_0_to_1_is_a_usage_error() -> None:
    for value in ("1.5", "-0.1"):
        proc = run("extract", str(HTML_PAGE), "--min-confidence", value)
        assert proc.returncode == 2 and "--min-confidence" in proc.stderr
        assert "Traceback" not in proc.stderr
    ok = run("extract", str(HTML_PAGE), "--min-confidence", "1", "--json")
    assert ok.returncode == 0, ok.stderr


def test_every_option_has_help_text() -> None:
    missing = []
    for name, command in cli.main.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{name} {param.opts[0]}")
    for param in cli.main.params:
        if isinstance(param, click.Option) and not param.help and param.opts[0] != "--version":
            missing.append(f"main {param.opts[0]}")
    assert missing == []


def test_default_concurrency_is_the_same_everywhere() -> None:
    default = inspect.signature(runner.run_batch).parameters["concurrency"].default
    assert default == runner.DEFAULT_CONCURRENCY == cli.DEFAULT_CONCURRENCY
    assert inspect.signature(runner.run_batch).parameters["per_host"].default == \
        cli.DEFAULT_PER_HOST == runner.DEFAULT_PER_HOST
    help_text = run("batch", "--help").stdout
    assert re.search(r"--concurrency[^\n]*\n?[^\n]*default: (\d+)", help_text).group(1) == \
        str(default)
    for doc in ("README.md", "docs/batch.md"):
        text = (ROOT / doc).read_text()
        found = re.findall(r"--concurrency`? \(default (\d+)\)", text)
        assert found and set(found) == {str(default)}, doc


def test_the_extract_table_fits_an_80_column_terminal() -> None:
    import io

    from rich.console import Console

    from stackextract.cli.render import print_stack
    from stackextract.pipeline import extract

    for source in (HTML_PAGE, CORPUS / "06_wg2-jenkins-to-concourse-2019.md"):
        out = io.StringIO()  # what a terminal of 80 columns gets (piped output is plain text)
        print_stack(extract(source, backend="offline"), Console(file=out, width=80))
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines) <= 80
        rows = [line for line in lines if line[:1] in "┏┃┡│└"]
        assert rows and all(line[-1] in "┓┃┩│┘" for line in rows)  # the border is whole


def test_local_model_server_builds_with_a_bounded_number_of_jobs() -> None:
    script = ROOT / "scripts" / "local_model_server.sh"
    proc = subprocess.run(["bash", str(script), "build-env"], capture_output=True, text=True,
                          timeout=30, env={k: v for k, v in os.environ.items() if k != "JOBS"})
    assert proc.returncode == 0, proc.stderr
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    assert f"CMAKE_BUILD_PARALLEL_LEVEL={cores}" in proc.stdout
    assert f"MAKEFLAGS=-j{cores}" in proc.stdout
    proc = subprocess.run(["bash", str(script), "build-env"], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "JOBS": "1"})
    assert "CMAKE_BUILD_PARALLEL_LEVEL=1" in proc.stdout


def test_batch_timeout_user_agent_and_contact_flags(tmp_path: Path) -> None:
    with PageServer() as server:
        proc = run("batch", "-", "--db", str(tmp_path / "a.db"), "--allow-private",
                   "--no-progress", "--contact", "ops@example.org", stdin=server.url(0) + "\n")
        assert proc.returncode == 0, proc.stderr
        assert server.agents and all("contact: ops@example.org" in a for a in server.agents)
        proc = run("batch", "-", "--db", str(tmp_path / "b.db"), "--allow-private",
                   "--no-progress", "--user-agent", "mybot/1.0", stdin=server.url(1) + "\n")
        assert proc.returncode == 0, proc.stderr
        assert server.agents[-1] == "mybot/1.0"
    with PageServer(delay=3.0) as slow:
        proc = run("batch", "-", "--db", str(tmp_path / "c.db"), "--allow-private",
                   "--no-progress", "--timeout", "0.5", stdin=slow.url(0) + "\n")
    assert proc.returncode == 1, proc.stderr
    with Store(tmp_path / "c.db") as store:
        (failure,) = store.failures()
    assert "timed out after 0.5s" in failure["message"]


def test_reextract_command_fetches_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with PageServer() as server:
        urls = "\n".join(server.url(i) for i in range(3)) + "\n"
        first = run("batch", "-", "--db", str(db), "--allow-private", "--no-progress",
                    stdin=urls)
        assert first.returncode == 0, first.stderr
        hits = sum(server.hits.values())
        again = run("reextract", "--db", str(db), "--min-confidence", "0.8", "--no-progress")
        assert again.returncode == 0, again.stderr
        assert "3 sources: 3 extracted" in again.stderr and "0 fetches" in again.stderr
        assert sum(server.hits.values()) == hits
    with Store(db) as store:
        assert store.counts()["extractions"] == 6 and store.counts()["documents"] == 3
