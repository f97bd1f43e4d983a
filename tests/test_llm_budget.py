"""What an LLM call costs: chunk size from the model's context, a lean prompt and schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_servers import FakeLLMServer, ok
from stackextract.llm.chunking import estimate_tokens
from stackextract.llm.extractor import LLMExtractor
from stackextract.llm.schema import ExtractedStack
from stackextract.llm.settings import (
    CHUNK_TOKENS_MAX,
    CHUNK_TOKENS_MIN,
    LLMSettings,
    chunk_tokens_for,
)
from stackextract.models import Document

# measured 983 estimated tokens a call besides the chunk (benchmarks/llm_calls.py); held a
# little above, so that a prompt or schema that grows again fails here
FIXED_TOKENS_CEILING = 1_100


def test_chunk_size_follows_the_models_context() -> None:
    openai = LLMSettings.resolve(api_key="sk-x")
    local = LLMSettings.resolve(base_url="http://127.0.0.1:9/v1")
    tiny = LLMSettings.resolve(base_url="http://127.0.0.1:9/v1", context_tokens=4096)
    assert openai.context_tokens > local.context_tokens
    assert openai.chunk_tokens == CHUNK_TOKENS_MAX  # 128k: bounded by what an answer holds
    assert CHUNK_TOKENS_MIN < local.chunk_tokens < CHUNK_TOKENS_MAX
    assert local.chunk_tokens + local.max_tokens < local.context_tokens
    assert tiny.chunk_tokens == CHUNK_TOKENS_MIN  # 1,200 only for tiny contexts
    assert chunk_tokens_for(8192, 4096) == local.chunk_tokens


def test_an_explicit_chunk_size_wins_and_a_derived_one_follows_changes() -> None:
    given = LLMSettings.resolve(base_url="http://127.0.0.1:9/v1", chunk_tokens=500)
    assert given.with_(context_tokens=128_000).chunk_tokens == 500
    derived = LLMSettings.resolve(base_url="http://127.0.0.1:9/v1")
    bigger = derived.with_(context_tokens=32_000)
    assert bigger.chunk_tokens == chunk_tokens_for(32_000, derived.max_tokens)
    assert bigger.chunk_tokens > derived.chunk_tokens


def test_the_chunk_size_is_part_of_the_cache_key() -> None:
    small = LLMExtractor(base_url="http://127.0.0.1:9/v1", context_tokens=4096)
    large = LLMExtractor(base_url="http://127.0.0.1:9/v1", context_tokens=32_000)
    assert small.config_key() != large.config_key()


@pytest.mark.parametrize("bad", [0, -5])
def test_a_context_below_one_token_is_a_config_error(bad: int) -> None:
    from stackextract.errors import ConfigError

    with pytest.raises(ConfigError):
        LLMSettings.resolve(base_url="http://127.0.0.1:9/v1", context_tokens=bad,
                            chunk_tokens=100)


def _walk(node: Any, path: str = "$") -> list[tuple[str, str]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "title" and isinstance(value, str) and path != "$":
                found.append((path, value))
            found += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _walk(value, f"{path}[{i}]")
    return found


def test_schema_has_no_generated_titles_or_null_defaults() -> None:
    schema = ExtractedStack.model_json_schema()
    assert _walk(schema) == []
    assert schema["title"] == "ExtractedStack"  # the tool / response format is named after it
    assert '"default": null' not in json.dumps(schema)


@pytest.mark.parametrize("mode", ["json_schema", "tools"])
def test_the_schema_travels_once_and_the_fixed_part_of_a_call_is_small(mode: str) -> None:
    doc = Document(text="We run Django on PostgreSQL and moved CI from Jenkins. " * 20,
                   title="Our stack")
    with FakeLLMServer([ok()]) as server:
        LLMExtractor(base_url=server.base_url, mode=mode, max_retries=0).extract(doc)
        (body,) = server.requests
    messages = "".join(str(m["content"]) for m in body["messages"])
    assert "maxLength" not in messages and '"properties"' not in messages
    schema_part = {k: body[k] for k in ("response_format", "tools") if k in body}
    assert json.dumps(schema_part).count('"properties"') >= 1
    sent = estimate_tokens(messages) + estimate_tokens(json.dumps(schema_part))
    fixed = sent - estimate_tokens(doc.text)
    assert 0 < fixed <= FIXED_TOKENS_CEILING


def test_the_context_can_come_from_the_environment() -> None:
    from stackextract.errors import ConfigError

    env = {"STACKEXTRACT_CONTEXT_TOKENS": "32000"}
    settings = LLMSettings.resolve(env=env, base_url="http://127.0.0.1:9/v1")
    assert settings.context_tokens == 32_000
    assert settings.chunk_tokens == chunk_tokens_for(32_000, settings.max_tokens)
    assert LLMSettings.resolve(env=env, base_url="http://x/v1", context_tokens=4096
                               ).context_tokens == 4096  # a keyword beats the environment
    with pytest.raises(ConfigError, match="whole number"):
        LLMSettings.resolve(env={"STACKEXTRACT_CONTEXT_TOKENS": "lots"}, base_url="http://x/v1")
