"""Secrets: a planted API key appears in no error, log line, traceback, database row or cassette.

The key is random per run (`sk-planted-<hex>`), handed over through OPENAI_API_KEY (CLI) or
`api_key=` (library). The endpoint is a real server on 127.0.0.1 that can be hostile: its
error bodies and headers echo the Authorization header back. The CLI runs in real
subprocesses, plain, with --debug (tracebacks), and with Python logging at DEBUG for every
library (httpx, httpcore, openai, instructor, stackextract).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_cassettes import CASSETTES, cassette_vcr
from llm_servers import Answer, FakeLLMServer, ok
from stackextract.errors import ExtractionError
from stackextract.llm.extractor import LLMExtractor
from stackextract.llm.settings import LLMSettings
from stackextract.models import Document
from stackextract.pipeline import extract

ROOT = Path(__file__).resolve().parent.parent
KEY = f"sk-planted-{secrets.token_hex(16)}"
ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STACKEXTRACT_MODEL", "STACKEXTRACT_LLM_MODE",
       "OPENAI_LOG")
TEXT = (
    "Our backend is Django on PostgreSQL. We use Redis for caching and Celery for jobs.\n\n"
    "We moved from Jenkins to GitHub Actions in 2022 because the builds were faster."
)
DOC = Document(text=TEXT, url="https://example.com/stack")
# Runs the CLI with every logger at DEBUG, as a user debugging a problem would.
DEBUG_RUNNER = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"
    "from stackextract.cli import main\n"
    "main(sys.argv[1:], prog_name='stackextract')\n"
)


class EchoServer(FakeLLMServer):
    """FakeLLMServer plus `Answer("echo", status=...)`: an error whose body and headers echo
    the request's Authorization header (a hostile or buggy endpoint), and `Answer("leak")`:
    a 200 whose content is the Authorization header instead of JSON (fails validation)."""

    def _answer(self, handler: Any, answer: Answer, body: dict[str, Any]) -> None:
        auth = handler.headers.get("Authorization", "")
        if answer.kind == "echo":
            err = {"error": {"message": f"invalid credentials: you sent Authorization: {auth}",
                             "type": "invalid_request_error", "key": auth.split()[-1]}}
            headers = {**answer.headers, "WWW-Authenticate": auth, "X-Echo-Key": auth.split()[-1]}
            handler.send(answer.status, json.dumps(err).encode(), headers)
            return
        if answer.kind == "leak":
            answer = Answer("content", content=f"Sure! Your header was {auth}.")
        super()._answer(handler, answer, body)


def echo(code: int, **headers: str) -> Answer:
    return Answer("echo", status=code, headers=dict(headers))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def _assert_no_secret(text: str, where: str) -> None:
    assert KEY not in text, f"planted key in {where}"
    assert KEY.removeprefix("sk-") not in text, f"key body in {where}"
    assert "Bearer" not in text, f"bearer credential in {where}"


# -- CLI in real subprocesses ------------------------------------------------------------------
def _run(args: list[str], *, mode: str, env: dict[str, str] | None = None) -> Any:
    full_env = {k: v for k, v in os.environ.items() if k not in ENV}
    full_env.update({"OPENAI_API_KEY": KEY, **(env or {})})
    if mode == "plain":
        cmd = [sys.executable, "-m", "stackextract", *args]
    elif mode == "debug":
        cmd = [sys.executable, "-m", "stackextract", "--debug", *args]
    elif mode == "logging":  # DEBUG logging for every library, and --debug tracebacks
        cmd = [sys.executable, "-c", DEBUG_RUNNER, "--debug", *args]
    elif mode == "openai_log":  # openai's own switch: OPENAI_LOG=debug
        cmd = [sys.executable, "-m", "stackextract", *args]
        full_env["OPENAI_LOG"] = "debug"
    else:
        raise AssertionError(mode)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=full_env,
                          check=False, cwd=ROOT)


SCENARIOS = {
    "401_echo": ([echo(401)], "rejected the API key (401)"),
    "500_echo": ([echo(500, **{"Retry-After": "0"})], "answered 500"),
    "429_echo": ([echo(429, **{"Retry-After": "0"})], "429 Too Many Requests"),
    "400_echo": ([echo(400)], "rejected the request (400)"),
    "validation_leak": ([Answer("leak")], "failed validation"),
}
# every scenario plain (what users see); tracebacks and DEBUG logs on the riskiest ones
# (each run is a fresh interpreter importing openai and instructor: ~2 s)
CLI_CASES = [
    *((scenario, "plain") for scenario in sorted(SCENARIOS)),
    ("400_echo", "debug"),
    ("401_echo", "logging"), ("validation_leak", "logging"),
    ("401_echo", "openai_log"),
]


@pytest.mark.parametrize(("scenario", "mode"), CLI_CASES)
def test_cli_extract_never_prints_the_key(scenario: str, mode: str, tmp_path: Path) -> None:
    script, expected = SCENARIOS[scenario]
    page = tmp_path / "stack.md"
    page.write_text(TEXT)
    with EchoServer(list(script)) as server:
        result = _run(["extract", str(page), "--backend", "llm", "--base-url", server.base_url,
                       "--model", "fake-model"], mode=mode)
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"  # the key was really sent
    assert result.returncode != 0
    _assert_no_secret(result.stdout, "stdout")
    _assert_no_secret(result.stderr, f"stderr ({mode})")
    if mode in ("plain", "openai_log"):  # openai's own debug log may include a traceback
        assert mode != "plain" or "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: extract: ")
    if mode in ("debug", "logging"):
        assert "Traceback" in result.stderr  # the chain is shown, scrubbed
    assert expected in result.stderr
    if mode in ("logging", "openai_log"):
        assert "openai._base_client" in result.stderr  # the debug logs really were on


def test_cli_debug_logs_of_a_good_run_hold_no_key(tmp_path: Path) -> None:
    """Without any echo: what httpx/httpcore/openai/instructor log at DEBUG never has it."""
    page = tmp_path / "stack.md"
    page.write_text(TEXT)
    with EchoServer([ok()]) as server:
        result = _run(["extract", str(page), "--backend", "llm", "--base-url", server.base_url,
                       "--model", "fake-model", "--json"], mode="logging")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Request options" in result.stderr and "HTTP Request: POST" in result.stderr
    _assert_no_secret(result.stderr, "DEBUG logs")
    _assert_no_secret(result.stdout, "stdout")
    assert "authorization" not in result.stderr.lower()


def _dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


def test_batch_failures_and_rows_hold_no_key(tmp_path: Path) -> None:
    mode = "logging"
    pages = []
    for name in ("a", "b", "c"):
        page = tmp_path / f"{name}.md"
        page.write_text(f"# {name}\n\n{TEXT}")
        pages.append(str(page))
    db = tmp_path / "stacks.db"
    script = [ok(), echo(401), echo(400)]
    with EchoServer(script) as server:
        result = _run(["batch", *pages, "--db", str(db), "--backend", "llm", "--base-url",
                       server.base_url, "--model", "fake-model", "--concurrency", "1",
                       "--no-progress"], mode=mode)
    assert result.returncode == 1, result.stderr[-2000:]
    _assert_no_secret(result.stdout + result.stderr, f"batch output ({mode})")
    dump = _dump(db)
    _assert_no_secret(dump, "database")
    with sqlite3.connect(db) as conn:
        failures = list(conn.execute("SELECT error_type, message FROM failures"))
        stored = conn.execute("SELECT count(*) FROM extractions").fetchone()[0]
    assert stored == 1 and len(failures) == 2
    assert any("401" in m for _, m in failures)
    assert "invalid credentials" in dump  # the echoed message is kept, its credential is not


# -- library API -------------------------------------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        err = pending.pop()
        if err is None or any(err is s for s in seen):
            continue
        seen.append(err)
        pending += [err.__cause__, err.__context__]
    return seen


def _extractor(base_url: str, **kw: Any) -> LLMExtractor:
    options: dict[str, Any] = {"api_key": KEY, "model": "fake-model", "max_retries": 1,
                               "backoff_initial": 0.01, "backoff_max": 0.02, "timeout": 5.0}
    options.update(kw)
    return LLMExtractor(base_url=base_url, **options)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_exceptions_and_their_chain_hold_no_key(scenario: str) -> None:
    script, expected = SCENARIOS[scenario]
    with EchoServer(list(script)) as server, pytest.raises(ExtractionError) as info:
        _extractor(server.base_url).extract(DOC)
    err = info.value
    assert expected in str(err)
    chain = _chain(err)
    assert len(chain) > 1  # the cause is kept for debugging
    for link in chain:
        _assert_no_secret(str(link), f"str({type(link).__name__})")
        _assert_no_secret(repr(link), f"repr({type(link).__name__})")
    _assert_no_secret("".join(traceback.format_exception(err)), "formatted traceback")


def test_async_pipeline_errors_hold_no_key() -> None:
    with EchoServer([echo(401)]) as server, pytest.raises(ExtractionError) as info:
        asyncio.run(_extractor(server.base_url).aextract(DOC))
    _assert_no_secret("".join(traceback.format_exception(info.value)), "async traceback")
    with EchoServer([echo(400)]) as server, pytest.raises(ExtractionError) as info:
        extract(DOC, backend="llm", base_url=server.base_url, api_key=KEY, model="fake-model")
    _assert_no_secret("".join(traceback.format_exception(info.value)), "pipeline traceback")


def test_in_process_debug_logging_holds_no_key(caplog: pytest.LogCaptureFixture) -> None:
    """A library user who turns on DEBUG for everything, against an echoing endpoint."""
    caplog.set_level(logging.DEBUG)
    with EchoServer([echo(401)]) as server, pytest.raises(ExtractionError):
        _extractor(server.base_url).extract(DOC)
    with EchoServer([ok()]) as server:
        _extractor(server.base_url).extract(DOC)
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "instructor" in text and "httpcore" in text and "openai" in text
    _assert_no_secret(text, "log records")


def test_a_key_without_the_sk_prefix_is_redacted_too() -> None:
    plain_key = secrets.token_hex(20)
    with EchoServer([echo(400)]) as server, pytest.raises(ExtractionError) as info:
        _extractor(server.base_url, api_key=plain_key).extract(DOC)
    text = "".join(traceback.format_exception(info.value))
    assert plain_key not in text and "Bearer" not in text


def test_reprs_config_key_and_results_hold_no_key() -> None:
    settings = LLMSettings.resolve(env={"OPENAI_API_KEY": KEY})
    for shown in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        _assert_no_secret(shown, "settings repr")
    env_extractor = LLMExtractor(settings=settings, base_url="http://127.0.0.1:9/v1")
    kw_extractor = _extractor("http://127.0.0.1:9/v1")
    for ex in (env_extractor, kw_extractor):
        _assert_no_secret(repr(ex), "extractor repr")
        _assert_no_secret(ex.config_key(), "config_key")
    assert env_extractor.config_key() == LLMExtractor(
        api_key="sk-other-key-123456", base_url="http://127.0.0.1:9/v1", model=settings.model,
        mode=settings.mode, context_tokens=settings.context_tokens).config_key()
    with EchoServer([ok()]) as server:
        stack = _extractor(server.base_url).extract(DOC)
    _assert_no_secret(stack.model_dump_json(), "Stack JSON")
    _assert_no_secret(stack.provenance.model_dump_json(), "provenance")


# -- cassettes ---------------------------------------------------------------------------------
KEY_SHAPED = re.compile(r"\b(?:sk|key|token)-[A-Za-z0-9_\-]{6,}")
REQUEST_HEADERS = {"content-type", "accept"}
RESPONSE_HEADERS = {"content-type", "content-length"}


def _check_cassette(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not KEY_SHAPED.search(text), path
    lowered = text.lower()
    for word in ("authorization", "bearer", "cookie", "api-key", "x-stainless",
                 "openai-organization", "openai-project", "x-request-id"):
        assert word not in lowered, (path, word)
    data = yaml.safe_load(text)
    assert data["interactions"], path
    for interaction in data["interactions"]:
        assert {h.lower() for h in interaction["request"]["headers"]} <= REQUEST_HEADERS
        assert {h.lower() for h in interaction["response"]["headers"]} <= RESPONSE_HEADERS
        assert "127.0.0.1:8089" in interaction["request"]["uri"]


@pytest.mark.parametrize("path", sorted(CASSETTES.glob("*.yaml")), ids=lambda p: p.name)
def test_committed_cassettes_hold_no_credential(path: Path) -> None:
    _check_cassette(path)


def test_recording_filters_the_planted_key(tmp_path: Path) -> None:
    """Record through the same VCR settings as scripts/record_cassettes.py, with the key."""
    cassette = tmp_path / "recorded.yaml"
    with EchoServer([Answer("status", status=500, headers={"Retry-After": "0"}), ok()]) as server, \
            cassette_vcr(record_mode="all").use_cassette(str(cassette)):
        _extractor(server.base_url).extract(DOC)
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in cassette.read_text()
    _check_cassette(cassette)


def test_an_echoing_endpoint_is_caught_when_recording(tmp_path: Path) -> None:
    """vcrpy filters headers, not bodies: an endpoint that echoes the key into a body would
    put it in the cassette. scripts/record_cassettes.py checks each file and deletes it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from record_cassettes import leaked_secrets

    cassette = tmp_path / "recorded.yaml"
    with EchoServer([echo(500, **{"Retry-After": "0"}), ok()]) as server, \
            cassette_vcr(record_mode="all").use_cassette(str(cassette)):
        _extractor(server.base_url).extract(DOC)
    assert KEY in cassette.read_text()  # the echoed body, recorded as sent
    leaked = leaked_secrets(cassette, [KEY])
    assert {"the API key", "a bearer credential", "an authorization header"} <= set(leaked)
    with pytest.raises(AssertionError):
        _check_cassette(cassette)
    clean = tmp_path / "clean.yaml"
    with EchoServer([ok()]) as server, cassette_vcr(record_mode="all").use_cassette(str(clean)):
        _extractor(server.base_url).extract(DOC)
    assert leaked_secrets(clean, [KEY]) == []
