"""LLM error paths against a real OpenAI-compatible test server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from llm_servers import VALID_STACK, Answer, fake_llm, ok, status
from stackextract.errors import ConfigError, ExtractionError
from stackextract.llm.extractor import LLMExtractor, retry_after_seconds
from stackextract.models import Document

KEY = "sk-test-not-a-real-key"
TEXT = (
    "Luma's Tech Stack\n\n"
    "Next.js provides a great framework. We're really happy with where Next.js is today.\n\n"
    "We started with CSS Modules but it was frustrating to have a different CSS file for "
    "every JS file. We chose styled-jsx instead."
)
DOC = Document(text=TEXT, title="Luma's Tech Stack", url="https://example.com/luma")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STACKEXTRACT_MODEL",
                 "STACKEXTRACT_LLM_MODE"):
        monkeypatch.delenv(name, raising=False)


def extractor(base_url: str, **kw: Any) -> LLMExtractor:
    options: dict[str, Any] = {
        "api_key": KEY,
        "model": "fake-model",
        "backoff_initial": 0.02,
        "backoff_max": 0.1,
        "max_retries": 3,
        "timeout": 5.0,
    }
    options.update(kw)
    return LLMExtractor(base_url=base_url, **options)


def failure(base_url: str, **kw: Any) -> ExtractionError:
    with pytest.raises(ExtractionError) as info:
        extractor(base_url, **kw).extract(DOC)
    err = info.value
    assert "\n" not in str(err)
    assert KEY not in str(err)
    assert err.stage == "extract"
    assert err.url == DOC.url
    return err


def test_valid_answer_maps_to_a_stack_with_usage() -> None:
    with fake_llm(ok()) as server:
        stack = extractor(server.base_url).extract(DOC)
    assert [(t.name, t.status.value) for t in stack.tools] == [
        ("Next.js", "uses"),
        ("CSS Modules", "used_previously"),
    ]
    assert stack.company == "Luma"
    assert stack.migrations[0].to_tool == "styled-jsx"
    assert all(not e.grounded for t in stack.tools for e in t.evidence)
    p = stack.provenance
    assert p.backend == "llm" and p.model == "fake-model" and p.prompt_version
    usage = p.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 20, 120)
    assert (p.usage.requests, p.usage.attempts, p.chunks) == (1, 1, 1)
    body = server.requests[0]
    assert body["temperature"] == 0 and body["model"] == "fake-model"
    assert body["response_format"]["type"] == "json_schema"
    assert TEXT in body["messages"][-1]["content"]
    # our retries only: the openai client must not retry on its own
    assert server.headers[0].get("x-stainless-retry-count", "0") == "0"


def test_429_with_retry_after_is_honoured_then_succeeds() -> None:
    with fake_llm(status(429, {"Retry-After": "1"}), ok()) as server:
        stack = extractor(server.base_url).extract(DOC)
    assert server.count == 2
    assert server.times[1] - server.times[0] >= 0.9
    assert stack.provenance.usage.attempts == 2
    assert stack.provenance.usage.requests == 1


def test_429_without_retry_after_backs_off_then_succeeds() -> None:
    with fake_llm(status(429), status(429), ok()) as server:
        stack = extractor(server.base_url).extract(DOC)
    assert server.count == 3 and len(stack.tools) == 2


def test_429_storm_gives_one_error_after_bounded_attempts() -> None:
    with fake_llm(status(429, {"Retry-After": "0"})) as server:
        err = failure(server.base_url, max_retries=2)
    assert server.count == 3
    assert err.attempts == 3
    assert "429" in str(err)


def test_retry_after_longer_than_the_deadline_stops_at_once() -> None:
    with fake_llm(status(429, {"Retry-After": "30"})) as server:
        started = time.monotonic()
        err = failure(server.base_url, total_timeout=2.0)
    assert time.monotonic() - started < 2.0
    assert server.count == 1 and err.attempts == 1


def test_retry_after_is_capped() -> None:
    with fake_llm(status(503, {"Retry-After": "100"}), ok()) as server:
        extractor(server.base_url, retry_after_max=0.2).extract(DOC)
    assert server.count == 2
    assert server.times[1] - server.times[0] < 2


def test_5xx_are_retried() -> None:
    with fake_llm(status(500), status(503), ok()) as server:
        stack = extractor(server.base_url).extract(DOC)
    assert server.count == 3 and stack.provenance.usage.attempts == 3


def test_persistent_500_reports_status_and_attempts() -> None:
    with fake_llm(status(500)) as server:
        err = failure(server.base_url, max_retries=2)
    assert server.count == 3 and err.attempts == 3
    assert "500" in str(err) and "3 attempt" in str(err)


def test_client_errors_are_not_retried() -> None:
    with fake_llm(status(401)) as server:
        err = failure(server.base_url)
    assert server.count == 1
    assert "API key" in str(err)
    with fake_llm(status(400)) as server:
        err = failure(server.base_url)
    assert server.count == 1 and "400" in str(err)


def test_slow_answer_within_timeout_is_fine() -> None:
    with fake_llm(Answer("slow", delay=0.3)) as server:
        stack = extractor(server.base_url, timeout=3.0).extract(DOC)
    assert len(stack.tools) == 2


def test_hanging_server_times_out_and_is_retried_boundedly() -> None:
    with fake_llm(Answer("hang")) as server:
        started = time.monotonic()
        err = failure(server.base_url, timeout=0.5, max_retries=1)
        elapsed = time.monotonic() - started
    assert server.count == 2 and err.attempts == 2
    assert "timed out" in str(err)
    assert elapsed < 5


def test_total_timeout_bounds_a_document() -> None:
    with fake_llm(Answer("hang")) as server:
        started = time.monotonic()
        failure(server.base_url, timeout=5.0, total_timeout=1.0, max_retries=5)
        assert time.monotonic() - started < 3


def test_invalid_json_body_is_one_clear_error() -> None:
    with fake_llm(Answer("invalid_body")) as server:
        err = failure(server.base_url)
    assert server.count == 1
    assert "not JSON" in str(err)


def test_invalid_content_is_reasked_and_all_attempts_are_counted() -> None:
    bad = Answer("content", content='{"company": null, "tools": "not a list"}')
    with fake_llm(bad, ok()) as server:
        stack = extractor(server.base_url, max_reasks=2).extract(DOC)
    assert server.count == 2
    usage = stack.provenance.usage
    assert (usage.requests, usage.prompt_tokens, usage.total_tokens) == (2, 200, 240)
    reask = server.requests[1]["messages"]
    assert len(reask) > len(server.requests[0]["messages"])
    assert "tools" in reask[-1]["content"]


def test_invalid_content_gives_up_after_bounded_reasks() -> None:
    with fake_llm(Answer("content", content="I think they use React.")) as server:
        err = failure(server.base_url, max_reasks=1)
    assert server.count == 2
    assert "failed validation after 2 attempt" in str(err)


def test_truncated_output_is_reported_as_such() -> None:
    with fake_llm(Answer("length")) as server:
        err = failure(server.base_url, max_tokens=64)
    assert server.count == 1
    assert str(err).startswith("model output truncated at max_tokens=64")
    assert "--max-tokens" in str(err)


def test_refusal_is_reported() -> None:
    with fake_llm(Answer("refusal", refusal="I cannot assist with that request.")) as server:
        err = failure(server.base_url)
    assert server.count == 1
    assert str(err) == "model refused: I cannot assist with that request."


def test_empty_choices_is_an_error() -> None:
    with fake_llm(Answer("empty_choices")) as server:
        err = failure(server.base_url)
    assert server.count == 1 and "no choices" in str(err)


def test_unreachable_endpoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = failure(f"http://127.0.0.1:{port}/v1", max_retries=1)
    assert "cannot reach" in str(err) and err.attempts == 2


def test_tools_mode_works_with_function_calls() -> None:
    with fake_llm(ok()) as server:
        stack = extractor(server.base_url, mode="tools").extract(DOC)
    assert "tools" in server.requests[0] and len(stack.tools) == 2


def test_over_long_and_unknown_values_are_cut_not_reasked() -> None:
    payload = dict(VALID_STACK)
    payload["tools"] = [
        {"name": "Next.js", "status": "currently using", "category": "web framework",
         "quote": "x" * 1000}
    ] * 3 + [{"name": f"T{i}", "status": "uses", "category": "other", "quote": "q"}
             for i in range(40)]
    with fake_llm(ok(payload)) as server:
        stack = extractor(server.base_url).extract(DOC)
    assert server.count == 1
    nxt = stack.tool("Next.js")
    assert nxt is not None and nxt.status.value == "uses" and len(nxt.evidence[0].quote) <= 160
    assert len(stack.tools) <= 20


def test_multi_chunk_document_merges_and_sums_usage() -> None:
    long_doc = Document(text="\n\n".join([TEXT] * 12))
    with fake_llm(ok()) as server:
        stack = extractor(server.base_url, chunk_tokens=150).extract(long_doc)
    assert server.count == stack.provenance.chunks > 1
    assert stack.provenance.usage.prompt_tokens == 100 * server.count
    assert [t.name for t in stack.tools] == ["Next.js", "CSS Modules"]
    assert "Part 1 of" in server.requests[0]["messages"][-1]["content"]


def test_async_extract_retries_and_merges() -> None:
    long_doc = Document(text="\n\n".join([TEXT] * 6))
    with fake_llm(status(429, {"Retry-After": "0"}), ok()) as server:
        ex = extractor(server.base_url, chunk_tokens=150)
        stack = asyncio.run(ex.aextract(long_doc))
    assert stack.provenance.chunks > 1
    assert server.count == stack.provenance.chunks + 1
    assert stack.provenance.usage.attempts == server.count


def test_async_extract_failure_is_one_error() -> None:
    long_doc = Document(text="\n\n".join([TEXT] * 6))
    with fake_llm(status(500)) as server:
        ex = extractor(server.base_url, chunk_tokens=150, max_retries=1)
        with pytest.raises(ExtractionError) as info:
            asyncio.run(ex.aextract(long_doc))
    assert "500" in str(info.value)


def test_hints_are_sent_when_asked() -> None:
    with fake_llm(ok()) as server:
        ex = extractor(server.base_url, hints=True, hint_source=lambda d: ["Next.js", "Rails"])
        ex.extract(DOC)
    content = server.requests[0]["messages"][-1]["content"]
    assert "Next.js" in content.split("Text:")[0]
    assert "Rails" not in content  # only names that occur in the chunk


def test_key_is_sent_but_never_shown() -> None:
    with fake_llm(status(500)) as server:
        ex = extractor(server.base_url, max_retries=0)
        assert KEY not in repr(ex) and KEY not in repr(ex.settings)
        with pytest.raises(ExtractionError) as info:
            ex.extract(DOC)
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in str(info.value)


def test_llm_without_key_or_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        LLMExtractor()


def test_invented_tools_are_dropped_by_grounding() -> None:
    from stackextract.grounding.locate import ground_stack

    payload = dict(VALID_STACK)
    payload["tools"] = [
        *VALID_STACK["tools"],
        {"name": "Kubernetes", "status": "uses", "category": "containers",
         "quote": "We run everything on Kubernetes"},
    ]
    with fake_llm(ok(payload)) as server:
        stack = extractor(server.base_url).extract(DOC)
    assert stack.tool("Kubernetes") is not None
    grounded = ground_stack(stack, DOC)
    assert grounded.tool("Kubernetes") is None
    assert grounded.provenance.dropped_items >= 1
    nxt = grounded.tool("Next.js")
    assert nxt is not None and nxt.evidence[0].grounded


def test_retry_after_parsing() -> None:
    class R:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    class E(Exception):
        def __init__(self, headers: dict[str, str]) -> None:
            self.response = R(headers)

    assert retry_after_seconds(E({"retry-after": "3"})) == 3
    assert retry_after_seconds(E({"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(E({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after_seconds(E({"retry-after": "soon"})) is None
    assert retry_after_seconds(E({})) is None


def test_a_callers_client_is_used_without_its_own_retries() -> None:
    import openai

    with fake_llm(status(500)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=5)
        ex = LLMExtractor(client=client, model="fake-model", max_retries=1, backoff_initial=0.01)
        with pytest.raises(ExtractionError):
            ex.extract(DOC)
    assert server.count == 2
