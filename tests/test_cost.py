"""Explicit cost (issue 16): the model is used when asked; `auto` says what it chose and why;
a dry run makes no model request and estimates what a real run then uses; tokens are counted."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from batch_helpers import PageServer
from conftest import CORPUS
from llm_servers import FakeLLMServer
from stackextract.batch.runner import run_batch
from stackextract.extractors import get_extractor, resolve_backend

EXE = [sys.executable, "-m", "stackextract"]
DOC = CORPUS / "06_wg2-jenkins-to-concourse-2019.md"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STACKEXTRACT_BACKEND")}
    full.update(env)
    return subprocess.run([*EXE, *args], capture_output=True, text=True, env=full, timeout=120)


def test_a_key_in_the_environment_does_not_switch_to_the_paid_model() -> None:
    with FakeLLMServer() as server:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test"}
        proc = _cli("extract", str(DOC), "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        assert server.count == 0 and '"backend": "offline"' in proc.stdout

        auto = _cli("extract", str(DOC), "--json", "--backend", "auto", env=env)
        assert auto.returncode == 0, auto.stderr
        assert server.count >= 1
        lines = [line for line in auto.stderr.splitlines() if line.startswith("backend:")]
        assert lines == ["backend: llm (auto: OPENAI_API_KEY is set; model requests may cost "
                         "money)"]

        before = server.count
        chosen = _cli("extract", str(DOC), "--json", env={**env, "STACKEXTRACT_BACKEND": "llm"})
        assert chosen.returncode == 0, chosen.stderr
        assert server.count > before and "backend:" not in chosen.stderr


def test_auto_without_a_key_says_offline_and_why() -> None:
    proc = _cli("extract", str(DOC), "--backend", "auto", env={})
    assert proc.returncode == 0, proc.stderr
    assert "backend: offline (auto: no API key or base URL is configured)" in proc.stderr


def test_library_default_is_offline_and_auto_is_announced_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert resolve_backend() == "offline"
    assert get_extractor().name in ("offline", "heuristic")
    monkeypatch.setenv("STACKEXTRACT_BACKEND", "llm")
    assert resolve_backend() == "llm"
    monkeypatch.setenv("STACKEXTRACT_BACKEND", "auto")
    get_extractor(base_url="http://127.0.0.1:9/v1", model="m")
    get_extractor(base_url="http://127.0.0.1:9/v1", model="m")
    err = capsys.readouterr().err
    assert err.count("backend: llm (auto: ") == 1


def _llm(server: FakeLLMServer) -> dict[str, str]:
    return {"backend": "llm", "base_url": server.base_url, "api_key": "sk-test", "model": "m",
            "mode": "json_schema"}


@pytest.mark.parametrize("mode", ["json_schema", "tools"])
def test_dry_run_sends_nothing_and_its_estimate_holds(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "s.db"
    n = 6
    with PageServer() as pages, FakeLLMServer(count_tokens=True) as model:
        listing = tmp_path / "urls.list"
        listing.write_text("\n".join(pages.url(i) for i in range(n)) + "\n")
        options = {**_llm(model), "mode": mode, "progress": False, "stream": io.StringIO(),
                   "allow_private": True, "fetch_options": {"retries": 0},
                   "model_processes": 0}
        dry = run_batch([listing], db=db, dry_run=True, price_in=2.0, price_out=8.0, **options)
        assert model.count == 0  # no model request
        assert dry.would_fetch == n and dry.would_extract == n and dry.chunks >= n
        assert dry.estimated_input_tokens > 0 and dry.estimated_output_tokens > 0
        assert dry.estimated_cost == pytest.approx(
            (dry.estimated_input_tokens * 2.0 + dry.estimated_output_tokens * 8.0) / 1e6)
        line = dry.line()
        assert "dry run" in line and f"{dry.chunks} model requests" in line and "$" in line
        page_hits = sum(pages.hits.values())

        real = run_batch([listing], db=db, **options)
        assert real.done == n and real.fetches == 0  # the dry run kept the pages
        assert sum(pages.hits.values()) == page_hits
        used_in = sum(p for p, _ in model.usage)
        used_out = sum(c for _, c in model.usage)
        assert model.count == dry.chunks
    estimate = dry.estimated_input_tokens + dry.estimated_output_tokens
    assert abs(estimate - (used_in + used_out)) <= 0.2 * (used_in + used_out)
    assert abs(dry.estimated_input_tokens - used_in) <= 0.2 * used_in
    # what was used is in the summary and in the extractions table
    assert (real.prompt_tokens, real.completion_tokens) == (used_in, used_out)
    assert f"{used_in} input + {used_out} output tokens" in real.line()
    conn = sqlite3.connect(db)
    stored = conn.execute(
        "SELECT SUM(prompt_tokens), SUM(completion_tokens) FROM extractions").fetchone()
    conn.close()
    assert stored == (used_in, used_out)


def test_dry_run_of_the_cli_with_prices(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with FakeLLMServer(count_tokens=True) as model:
        proc = _cli("batch", str(DOC), "--db", str(db), "--backend", "llm", "--base-url",
                    model.base_url, "--model", "m", "--dry-run", "--price-in", "0.15",
                    "--price-out", "0.6", "--no-progress", env={"OPENAI_API_KEY": "sk-test"})
        assert proc.returncode == 0, proc.stderr
        assert model.count == 0
    assert "dry run, 1 sources" in proc.stderr and "estimated cost $" in proc.stderr
    offline = _cli("batch", str(DOC), "--db", str(tmp_path / "o.db"), "--dry-run",
                   "--no-progress", env={})
    assert offline.returncode == 0, offline.stderr
    assert "no model requests (offline backend)" in offline.stderr


def test_an_unknown_backend_in_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stackextract.errors import ConfigError

    monkeypatch.setenv("STACKEXTRACT_BACKEND", "gpt")
    with pytest.raises(ConfigError, match="STACKEXTRACT_BACKEND"):
        resolve_backend()
    proc = _cli("extract", str(DOC), env={"STACKEXTRACT_BACKEND": "gpt"})
    assert proc.returncode == 2 and "STACKEXTRACT_BACKEND" in proc.stderr
    assert proc.stderr.count("\n") == 1
