"""The second round of hostile input, model side (issue 15): an endpoint that reflects the key
into a valid answer, credentials in --base-url, answers that trickle, answers of any size.
Every endpoint is a real server on 127.0.0.1 (tests/llm_servers.py); the CLI runs in real
subprocesses."""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fault_helpers import env as cli_env
from fetch_servers import closed_port
from llm_servers import VALID_STACK, Answer, FakeLLMServer, completion
from stackextract.errors import ExtractionError
from stackextract.llm.extractor import LLMExtractor
from stackextract.models import Document

KEY = f"sk-planted-{secrets.token_hex(16)}"
TEXT = (
    "Our backend is Django on PostgreSQL. We use Redis for caching and Celery for jobs.\n\n"
    "We moved from Jenkins to GitHub Actions in 2022 because the builds were faster."
)
DOC = Document(text=TEXT, url="https://example.com/stack")


def _reflected(token: str, where: str) -> dict[str, Any]:
    """A valid answer with the caller's token placed in one field."""
    answer = json.loads(json.dumps(VALID_STACK))
    if where == "company":
        answer["company"] = f"Acme (key {token})"
    elif where == "quote":
        answer["tools"][0]["quote"] = f"We use Next.js with {token}"
    elif where == "tool":
        answer["tools"][0]["name"] = token
    elif where == "reason":
        answer["reasons"] = [{"tool": "Next.js", "text": f"auth was {token}",
                              "quote": "We're really happy with where Next.js is today"}]
    elif where == "migration":
        answer["migrations"][0]["why"] = [f"the key {token} said so"]
    elif where == "regret":
        answer["regrets"] = [{"tool": "CSS Modules", "text": f"Bearer {token}",
                              "quote": "We started with CSS Modules"}]
    return answer


class ReflectServer(FakeLLMServer):
    """Answers validly, with the bearer token of the request reflected into `where`."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def _answer(self, handler: Any, answer: Answer, body: dict[str, Any]) -> None:
        token = handler.headers.get("Authorization", "").split()[-1]
        super()._answer(handler, Answer("ok", payload=_reflected(token, self.where)), body)


PLACES = ["company", "quote", "tool", "reason", "migration", "regret"]


@pytest.mark.parametrize("where", PLACES)
def test_a_key_reflected_into_a_valid_answer_is_redacted(where: str) -> None:
    with ReflectServer(where) as server:
        ex = LLMExtractor(base_url=server.base_url, api_key=KEY, model="m", mode="json_schema")
        stack = ex.extract(DOC)
        astack = asyncio.run(ex.aextract(DOC))
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"  # it was sent, and echoed
    for result in (stack, astack):
        dumped = result.model_dump_json()
        assert KEY not in dumped and KEY[10:] not in dumped
        assert "***" in dumped


def _cli(*args: Any, extra: dict[str, str] | None = None, timeout: float = 60) -> Any:
    return subprocess.run([sys.executable, "-m", "stackextract", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env=cli_env(**(extra or {})))


def _dump(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(str(row) for row in conn.iterdump())


@pytest.mark.slow
def test_a_reflected_key_is_not_stored_or_printed_by_the_cli(tmp_path: Path) -> None:
    doc = tmp_path / "stack.md"
    doc.write_text(TEXT, encoding="utf-8")
    db = tmp_path / "s.db"
    with ReflectServer("company") as server:
        base = ["--backend", "llm", "--base-url", server.base_url, "--model", "m"]
        shown = _cli("extract", doc, *base, "--json", "--db", db, extra={"OPENAI_API_KEY": KEY})
        table = _cli("extract", doc, *base, extra={"OPENAI_API_KEY": KEY})
        other = tmp_path / "b.db"
        batch = _cli("batch", doc, *base, "--db", other, "--no-progress", "--model-processes",
                     "1", extra={"OPENAI_API_KEY": KEY})
    for proc in (shown, table, batch):
        assert proc.returncode == 0, proc.stderr
        assert KEY not in proc.stdout + proc.stderr
    assert json.loads(shown.stdout)["company"].startswith("Acme (key ***")
    for path in (db, other):
        dumped = _dump(path)
        assert KEY not in dumped and "Acme (key ***" in dumped


SECRET = f"planted{secrets.token_hex(8)}"
BASE_URLS = [
    f"http://user:{SECRET}@127.0.0.1:{{port}}/v1",
    f"http://{SECRET}@127.0.0.1:{{port}}/v1",
    f"http://127.0.0.1:{{port}}/v1?api-key={SECRET}",
    f"http://127.0.0.1:{{port}}/v1?token={SECRET}",
    f"http://127.0.0.1:{{port}}/v1?x=1&key={SECRET}",
]


@pytest.mark.parametrize("base_url", BASE_URLS)
def test_credentials_in_the_base_url_are_never_printed_or_stored(
    tmp_path: Path, base_url: str
) -> None:
    from stackextract.batch.runner import run_batch

    doc = tmp_path / "stack.md"
    doc.write_text(TEXT, encoding="utf-8")
    db = tmp_path / "s.db"
    url = base_url.format(port=closed_port())
    summary = run_batch([doc], db=db, backend="llm", base_url=url, model="m", max_retries=0,
                        progress=False, model_processes=0)
    assert summary.failed == 1
    with sqlite3.connect(db) as conn:
        (message,) = conn.execute("SELECT message FROM failures").fetchone()
    assert "cannot reach the model endpoint" in message
    assert SECRET not in message and SECRET not in _dump(db)
    assert SECRET not in json.dumps(summary.as_dict())
    with pytest.raises(ExtractionError) as info:
        LLMExtractor(base_url=url, model="m", max_retries=0).extract(DOC)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(LLMExtractor(base_url=url, model="m").settings)


@pytest.mark.slow
def test_credentials_in_the_base_url_stay_out_of_the_cli_output(tmp_path: Path) -> None:
    doc = tmp_path / "stack.md"
    doc.write_text(TEXT, encoding="utf-8")
    for base_url in BASE_URLS[:3:2]:
        url = base_url.format(port=closed_port())
        for debug in ([], ["--debug"]):
            proc = _cli(*debug, "extract", doc, "--backend", "llm", "--base-url", url,
                        "--model", "m", timeout=90)
            assert proc.returncode == 1, proc.stderr
            assert SECRET not in proc.stdout + proc.stderr
            if not debug:
                assert proc.stderr.strip().splitlines()[-1].startswith("error: extract: ")


# --- 6. an answer that trickles ----------------------------------------------------------


class TrickleServer(FakeLLMServer):
    """A valid answer sent a byte every `interval` seconds: headers first (`part="body"`) or
    the headers too (`part="headers"`). Never idle long enough for a read timeout."""

    def __init__(self, part: str, interval: float = 0.05) -> None:
        super().__init__()
        self.part = part
        self.interval = interval

    def _answer(self, handler: Any, answer: Answer, body: dict[str, Any]) -> None:
        reply = json.dumps(completion(json.dumps(VALID_STACK))).encode()
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(reply))
        if self.part == "headers":
            head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 100_000
        data = head + reply
        start = len(head) if self.part == "body" else 0
        try:
            handler.wfile.write(data[:start])
            handler.wfile.flush()
            for i in range(start, len(data)):
                if self._stop.wait(self.interval):
                    return
                handler.wfile.write(data[i:i + 1])
                handler.wfile.flush()
        except OSError:
            return


@pytest.mark.parametrize("part", ["body", "headers"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_trickling_answer_stops_at_the_deadlines(part: str, mode: str) -> None:
    with TrickleServer(part) as server:
        ex = LLMExtractor(base_url=server.base_url, model="m", mode="json_schema",
                          timeout=1, total_timeout=2.5, max_retries=5, backoff_initial=0.01)
        started = time.monotonic()
        with pytest.raises(ExtractionError, match=r"timed out|total_timeout"):
            if mode == "sync":
                ex.extract(DOC)
            else:
                asyncio.run(ex.aextract(DOC))
        elapsed = time.monotonic() - started
    assert 2 <= server.count <= 4  # each request cut at 1 s, all of them by 2.5 s
    assert elapsed < 20  # 2.5 s, and a loaded CI; without the deadlines it never returns


# --- 8. answers of any size --------------------------------------------------------------


class HugeServer(FakeLLMServer):
    """A 200 whose message content is `size` bytes: with a Content-Length or chunked."""

    def __init__(self, size: int, *, chunked: bool) -> None:
        super().__init__()
        self.size = size
        self.chunked = chunked

    def _answer(self, handler: Any, answer: Answer, body: dict[str, Any]) -> None:
        head, tail = json.dumps(completion("@@")).encode().split(b"@@")
        filler = b"x" * 65536
        n = self.size // len(filler)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            if self.chunked:
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.send_header("Content-Length", str(len(head) + n * len(filler)
                                                          + len(tail)))
            handler.end_headers()
            for piece in (head, *([filler] * n), tail):
                if self.chunked:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    handler.wfile.write(piece)
            if self.chunked:
                handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            return


@pytest.mark.parametrize("size", [300_000, 50_000_000])
@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_huge_answer_is_cut_off_and_never_sent_back(size: int, chunked: bool,
                                                      mode: str) -> None:
    with HugeServer(size, chunked=chunked) as server:
        ex = LLMExtractor(base_url=server.base_url, model="m", mode="json_schema",
                          max_reasks=2, max_retries=2, backoff_initial=0.01)
        with pytest.raises(ExtractionError, match=r"larger than|more than max_tokens"):
            if mode == "sync":
                ex.extract(DOC)
            else:
                asyncio.run(ex.aextract(DOC))
    assert server.count == 1  # not retried, not re-asked
    assert max(len(json.dumps(r)) for r in server.requests) < 100_000
