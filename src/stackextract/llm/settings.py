"""Settings of the LLM backend: keyword arguments first, then the environment, then defaults.

The API key is kept out of `repr()` so that settings can be logged or shown in errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from stackextract.errors import ConfigError

MODES = ("json_schema", "tools", "json", "md_json")
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_LOCAL_MODEL = "local"
LOCAL_PLACEHOLDER_KEY = "sk-no-key-needed"

ENV_API_KEY = "OPENAI_API_KEY"
ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_MODEL = "STACKEXTRACT_MODEL"
ENV_MODE = "STACKEXTRACT_LLM_MODE"
ENV_CONTEXT = "STACKEXTRACT_CONTEXT_TOKENS"

# Context windows assumed when none is given: OpenAI's current chat models take 128k tokens;
# a local server is assumed to run with -c 8192 (scripts/local_model_server.sh does).
DEFAULT_OPENAI_CONTEXT = 128_000
DEFAULT_LOCAL_CONTEXT = 8_192
# What one request needs besides the chunk: instructions, the example, the schema, the title
# and hints (about 700 tokens measured; docs/performance.md), with room to spare.
PROMPT_RESERVE_TOKENS = 1_000
# Chunks never go above this: each answer is bounded (20 tools, 4 reasons... a chunk), and a
# chunk holding more writeup than that would lose items. 8k tokens is ~32k characters, which
# holds all but the longest writeups of the corpus in one call.
CHUNK_TOKENS_MAX = 8_000
# The smallest chunk (tiny local models, 4-6k contexts): what the cassettes' SmolLM2 ran with.
CHUNK_TOKENS_MIN = 1_200


def chunk_tokens_for(context_tokens: int, max_tokens: int) -> int:
    """The chunk size that fits a model's context: what the answer (`max_tokens`) and the
    fixed prompt leave, less a fifth for the estimate (4 characters a token undercounts code
    and non-English text), between CHUNK_TOKENS_MIN and CHUNK_TOKENS_MAX."""
    room = context_tokens - max_tokens - PROMPT_RESERVE_TOKENS
    return max(CHUNK_TOKENS_MIN, min(CHUNK_TOKENS_MAX, int(room * 0.8)))


@dataclass(frozen=True)
class LLMSettings:
    """Everything the LLM backend needs to reach a model and bound its cost.

    `timeout` bounds one HTTP request, `total_timeout` one document (all chunks, retries
    and re-asks), both as overall deadlines that a trickling answer does not extend;
    `max_response_bytes` caps what is read of one answer. `context_tokens` is the model's
    context window; unless `chunk_tokens` is given, the chunk size follows from it
    (`chunk_tokens_for`). `max_retries` counts retries of transient HTTP errors (429, 5xx,
    timeouts); `max_reasks` counts instructor's re-asks after invalid output.
    """

    api_key: str | None = None
    base_url: str | None = None
    model: str = DEFAULT_OPENAI_MODEL
    mode: str = "tools"
    temperature: float = 0.0
    max_tokens: int = 4096
    chunk_tokens: int = CHUNK_TOKENS_MAX
    context_tokens: int = DEFAULT_OPENAI_CONTEXT
    timeout: float = 120.0
    max_retries: int = 4
    max_reasks: int = 2
    total_timeout: float = 900.0
    retry_after_max: float = 60.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    chunk_concurrency: int = 4
    max_response_bytes: int = 4_000_000  # a bigger HTTP answer is cut off, not read

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key":
                value = "***" if value else None
            elif f.name == "base_url" and value:
                from stackextract.errors import redact

                value = redact(value)
            shown.append(f"{f.name}={value!r}")
        return f"LLMSettings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def is_openai(self) -> bool:
        """True when talking to api.openai.com (no base URL, or the official one)."""
        return not self.base_url or "api.openai.com" in self.base_url

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> LLMSettings:
        """Keyword arguments (those not None) > environment > defaults.

        Without a key or a base URL the settings are still built (so a config key can be
        computed); `require_endpoint()` says what is missing.
        """
        env = os.environ if env is None else env
        known = {f.name for f in fields(cls)}
        unknown = set(kwargs) - known
        if unknown:
            raise ConfigError(f"unknown LLM setting(s): {', '.join(sorted(unknown))}")
        given = {k: v for k, v in kwargs.items() if v is not None}
        api_key = given.pop("api_key", None) or env.get(ENV_API_KEY) or None
        base_url = given.pop("base_url", None) or env.get(ENV_BASE_URL) or None
        is_openai = not base_url or "api.openai.com" in base_url
        model = (
            given.pop("model", None)
            or env.get(ENV_MODEL)
            or (DEFAULT_OPENAI_MODEL if is_openai else DEFAULT_LOCAL_MODEL)
        )
        mode = (given.pop("mode", None) or env.get(ENV_MODE) or "").strip().lower()
        if not mode:
            # OpenAI: function calling; local servers: grammar/structured-output constrained.
            mode = "tools" if is_openai else "json_schema"
        mode = mode.replace("-", "_")
        if mode not in MODES:
            raise ConfigError(f"unknown LLM mode {mode!r}; use one of: {', '.join(MODES)}")
        if "context_tokens" not in given and env.get(ENV_CONTEXT):
            try:
                given["context_tokens"] = int(env[ENV_CONTEXT])
            except ValueError as exc:
                raise ConfigError(
                    f"{ENV_CONTEXT} must be a whole number of tokens, not {env[ENV_CONTEXT]!r}"
                ) from exc
        given.setdefault("context_tokens",
                         DEFAULT_OPENAI_CONTEXT if is_openai else DEFAULT_LOCAL_CONTEXT)
        if "chunk_tokens" not in given:
            given["chunk_tokens"] = chunk_tokens_for(
                int(given["context_tokens"]), int(given.get("max_tokens", cls.max_tokens))
            )
        settings = cls(api_key=api_key, base_url=base_url, model=model, mode=mode, **given)
        settings._check()
        return settings

    def _check(self) -> None:
        for name in ("max_tokens", "chunk_tokens", "context_tokens", "chunk_concurrency",
                     "max_response_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in ("max_retries", "max_reasks"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more")
        for name in ("timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive (seconds)")

    @property
    def configured(self) -> bool:
        """True when a key or a base URL is set: the LLM can be tried."""
        return bool(self.api_key or self.base_url)

    def require_endpoint(self) -> None:
        """Raise ConfigError unless a key or a base URL is set."""
        if not self.configured:
            raise ConfigError(
                f"the llm backend needs {ENV_API_KEY} or {ENV_BASE_URL} "
                "(or --base-url for a local server); or use --backend offline"
            )

    def client_key(self) -> str:
        """The key to hand to the openai client: local servers accept any placeholder."""
        return self.api_key or LOCAL_PLACEHOLDER_KEY

    def with_(self, **changes: Any) -> LLMSettings:
        """A copy with some fields changed (validated like `resolve`); a chunk size that
        followed from the context follows a new context or max_tokens."""
        derived = self.chunk_tokens == chunk_tokens_for(self.context_tokens, self.max_tokens)
        if derived and "chunk_tokens" not in changes and (
            "context_tokens" in changes or "max_tokens" in changes
        ):
            changes["chunk_tokens"] = chunk_tokens_for(
                int(changes.get("context_tokens", self.context_tokens)),
                int(changes.get("max_tokens", self.max_tokens)),
            )
        settings = replace(self, **changes)
        settings._check()
        return settings


def llm_configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether `--backend auto` should pick the LLM: a key or a base URL is in the environment."""
    env = os.environ if env is None else env
    return bool(env.get(ENV_API_KEY) or env.get(ENV_BASE_URL))
