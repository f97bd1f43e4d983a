"""The LLM backend: instructor over the openai client, for OpenAI or any compatible server.

One document -> paragraph-aligned chunks -> one structured call per chunk -> merged Stack.
Transient HTTP errors (429 honouring Retry-After, 5xx, timeouts, connection errors) are
retried here with tenacity, bounded by a number of attempts and by a per-document deadline;
the openai client's own retries are switched off so that the count is ours. Invalid output
is re-asked by instructor (bounded by `max_reasks`). Whatever still fails becomes one
`ExtractionError` per document, with a one-line message and the number of attempts.
Grounding is not done here: the pipeline grounds every backend's Stack the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import hashlib
import importlib
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception

from stackextract._version import __version__
from stackextract.errors import (
    KNOWN_SECRETS,
    ConfigError,
    ExtractionError,
    one_line,
    redact,
    remember_secret,
    remember_url_secrets,
)
from stackextract.llm.chunking import Chunk, chunk_text
from stackextract.llm.merge import merge_stacks
from stackextract.llm.prompts import Prompts, build_messages, load_prompts
from stackextract.llm.schema import ExtractedStack, to_stack
from stackextract.llm.settings import LLMSettings
from stackextract.models import SCHEMA_VERSION, Document, Provenance, Stack, Usage
from stackextract.sources.fetch import deadline_transport, network_deadline, ssl_context

if TYPE_CHECKING:
    from stackextract.catalog.vocabulary import Catalog

# instructor logs every failed attempt at ERROR; our one-line ExtractionError says it all.
# A NullHandler keeps Python's last-resort handler from printing them when no logging is set.
logging.getLogger("instructor").addHandler(logging.NullHandler())

BACKEND = "llm"
MAX_HINTS = 40
MODES = {
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "tools": instructor.Mode.TOOLS,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}
NOT_JSON = "model endpoint answered with a body that is not JSON; is --base-url right?"
HintSource = Callable[[Document], Sequence[str]]


# -- failures that are not worth a re-ask ------------------------------------------------
class _Unusable(Exception):
    """The endpoint answered, but the answer cannot be used; re-asking would not help."""


class _Truncated(_Unusable):
    pass


class _Refused(_Unusable):
    pass


class _DeadlineExceeded(Exception):
    pass


class _TooLarge(_Unusable):
    """The answer is bigger than any answer to our request can be: not read further, and
    never sent back in a re-ask."""


# Characters of answer text per completion token, generously: more than this is not an answer
# within max_tokens (an endpoint that ignores it, or a hostile one), so it is not re-asked.
_CHARS_PER_TOKEN = 16
_MIN_ANSWER_CHARS = 65_536


class _CappedStream(httpx.SyncByteStream):
    """A response body that raises _TooLarge past `cap` bytes, before they pile up."""

    def __init__(self, inner: Any, cap: int) -> None:
        self._inner = inner
        self._cap = cap
        self._seen = 0

    def _count(self, chunk: bytes) -> bytes:
        self._seen += len(chunk)
        if self._seen > self._cap:
            raise _TooLarge(_too_large(self._cap))
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            yield self._count(chunk)

    def close(self) -> None:
        self._inner.close()


class _ACappedStream(httpx.AsyncByteStream):
    """The async twin of _CappedStream."""

    def __init__(self, inner: Any, cap: int) -> None:
        self._inner = inner
        self._cap = cap
        self._seen = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._seen += len(chunk)
            if self._seen > self._cap:
                raise _TooLarge(_too_large(self._cap))
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _too_large(cap: int) -> str:
    return (f"model answer larger than {cap:,} bytes (max_response_bytes); not read further "
            "and not re-asked: check the endpoint and --max-tokens")


def _declared_too_large(response: httpx.Response, cap: int) -> bool:
    length = response.headers.get("content-length", "").strip()
    return length.isdigit() and int(length) > cap


class _CappedTransport(httpx.BaseTransport):
    """The model client's transport: an overall deadline per request (see
    sources.fetch.network_deadline) and a cap on the size of an answer."""

    def __init__(self, cap: int) -> None:
        self._inner = deadline_transport(sync=True, limits=_LIMITS)
        self._cap = cap

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if _declared_too_large(response, self._cap):
            response.close()
            raise _TooLarge(_too_large(self._cap))
        response.stream = _CappedStream(response.stream, self._cap)
        return response

    def close(self) -> None:
        self._inner.close()


class _ACappedTransport(httpx.AsyncBaseTransport):
    """The async twin of _CappedTransport."""

    def __init__(self, cap: int) -> None:
        self._inner = deadline_transport(sync=False, limits=_LIMITS)
        self._cap = cap

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if _declared_too_large(response, self._cap):
            await response.aclose()
            raise _TooLarge(_too_large(self._cap))
        response.stream = _ACappedStream(response.stream, self._cap)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying after a pause: rate limits, server errors, timeouts, resets."""
    if isinstance(exc, (openai.RateLimitError, openai.InternalServerError)):
        return True
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return _cause(exc, _Unusable) is None  # not an answer too large to read
    return isinstance(exc, openai.APIStatusError) and exc.status_code in (408, 409)


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds asked for by a `Retry-After` (seconds or HTTP date) or `retry-after-ms` header."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class _Meter:
    """Tokens and requests of every attempt of one document, re-asks and retries included."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    requests: int = 0  # responses received (each re-ask counts)
    attempts: int = 0  # HTTP attempts, including those that failed and were retried

    def add(self, response: Any) -> None:
        self.requests += 1
        usage = getattr(response, "usage", None)
        if usage is None:
            return
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.total_tokens += int(getattr(usage, "total_tokens", 0) or 0) or prompt + completion

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.total_tokens,
            requests=self.requests,
            attempts=self.attempts,
        )


def _check_response(response: Any, settings: LLMSettings) -> None:
    """Turn answers that no re-ask can fix into clear failures before instructor parses them."""
    if not isinstance(response, ChatCompletion):
        raise _Unusable(
            f"model endpoint answered with {type(response).__name__}, not a chat completion; "
            "is --base-url an OpenAI-compatible /v1 endpoint?"
        )
    if not response.choices:
        raise _Unusable("model endpoint answered with no choices; check the server and model")
    choice = response.choices[0]
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        raise _Refused(f"model refused: {refusal}")
    if choice.finish_reason == "length":
        raise _Truncated(
            f"model output truncated at max_tokens={settings.max_tokens}; "
            "raise --max-tokens or lower --chunk-tokens"
        )
    if choice.finish_reason == "content_filter":
        raise _Refused("model refused: the endpoint's content filter stopped the answer")
    message = choice.message
    size = len(message.content or "") + sum(
        len(getattr(getattr(call, "function", None), "arguments", "") or "")
        for call in (message.tool_calls or ())
    )
    most = max(_MIN_ANSWER_CHARS, settings.max_tokens * _CHARS_PER_TOKEN)
    if size > most:
        raise _TooLarge(
            f"model answer of {size:,} characters, more than max_tokens={settings.max_tokens} "
            "allows; not re-asked (a re-ask would send it back): check the endpoint"
        )


# -- secrets: an endpoint may echo the key back (in an error body, a header, an answer) -----
_KNOWN_SECRETS = KNOWN_SECRETS  # keys handed to an LLMExtractor in this process
_LOGGER_ROOTS = ("instructor", "openai", "httpx", "httpcore")
# created by httpcore when its first connection opens, i.e. after this module is imported
_LATE_LOGGERS = ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
                 "httpcore.socks", "openai._base_client", "instructor.v2.retry")
_remember_secret = remember_secret


def _redact_stack(stack: Stack) -> Stack:
    """The Stack without any secret: an endpoint that reflects the Authorization header into
    a valid answer (company, quotes, reasons) must not get the key stored or printed."""
    data = stack.model_dump(mode="json")
    clean = _redact_value(data, limit=64)
    return stack if clean == data else Stack.model_validate(clean)


class _RedactedError(Exception):
    """Stands in for an exception whose message cannot be scrubbed (pydantic's are computed)."""


def _redact_value(value: Any, depth: int = 0, limit: int = 8) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth > limit:
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v, depth + 1, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_redact_value(v, depth + 1, limit) for v in value)
    if isinstance(value, BaseModel):  # e.g. the ChatCompletion kept in a failed attempt
        for name, field_value in list(vars(value).items()):
            clean = _redact_value(field_value, depth + 1, limit)
            if clean is not field_value and clean != field_value:
                object.__setattr__(value, name, clean)
    return value


def _redact_exceptions(exc: BaseException) -> None:
    """Scrub the messages of `exc` and of everything chained to it, in place.

    The chain is kept for --debug tracebacks; an endpoint that echoes the Authorization
    header into its error body must not put the key into them.
    """
    pending: list[Any] = [exc]
    seen: set[int] = set()
    while pending:
        err = pending.pop()
        if not isinstance(err, BaseException) or id(err) in seen:
            continue
        seen.add(id(err))
        try:
            err.args = tuple(_redact_value(a) for a in err.args)
            for attr in ("message", "body"):
                if isinstance(getattr(err, attr, None), (str, dict, list)):
                    setattr(err, attr, _redact_value(getattr(err, attr)))
        except Exception:  # pragma: no cover - read-only attributes of some exception type
            pass
        pending += [err.__cause__, err.__context__]
        attempts = getattr(err, "failed_attempts", None) or ()
        if attempts:
            err.failed_attempts = [  # type: ignore[attr-defined]
                a._replace(
                    exception=_RedactedError(
                        f"{type(a.exception).__name__}: {redact(str(a.exception))}"
                    ),
                    completion=_redact_value(a.completion),
                )
                if hasattr(a, "_replace") and a.exception is not None else a
                for a in attempts
            ]
        last = getattr(err, "last_completion", None)
        if last is not None:
            _redact_value(last)


class _RedactingFilter(logging.Filter):
    """Redacts what the model libraries log (instructor logs error bodies at ERROR)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a malformed record is the handler's business
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _guard_loggers() -> None:
    """Put the filter on the model libraries' loggers (a logger filter does not inherit)."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in _LOGGER_ROOTS]
    for name in {*_LOGGER_ROOTS, *_LATE_LOGGERS, *names}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
            logger.addFilter(_RedactingFilter())


_guard_loggers()


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return exc.message


def _explain(exc: BaseException, settings: LLMSettings, attempts: int) -> str:
    """One line saying what went wrong and what to do next."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for err in chain:
        if isinstance(err, (_Unusable, _DeadlineExceeded)):
            return str(err)
    for err in chain:
        if isinstance(err, IncompleteOutputException):
            return (
                f"model output truncated at max_tokens={settings.max_tokens}; "
                "raise --max-tokens or lower --chunk-tokens"
            )
        if isinstance(err, openai.APITimeoutError):
            return (
                f"model endpoint timed out after {attempts} attempt(s) "
                f"(timeout={settings.timeout:g}s); raise --timeout or use a faster model"
            )
        if isinstance(err, openai.APIConnectionError):
            return (
                f"cannot reach the model endpoint {settings.base_url or 'api.openai.com'} "
                f"after {attempts} attempt(s); is the server running?"
            )
        if isinstance(err, openai.RateLimitError):
            return (
                f"model endpoint answered 429 Too Many Requests after {attempts} attempt(s); "
                "wait, lower the concurrency, or raise max_retries"
            )
        if isinstance(err, openai.InternalServerError):
            return (
                f"model endpoint answered {err.status_code} ({_api_message(err)}) after "
                f"{attempts} attempt(s); try again later"
            )
        if isinstance(err, openai.AuthenticationError):
            return "model endpoint rejected the API key (401); check OPENAI_API_KEY"
        if isinstance(err, openai.NotFoundError):
            return (
                f"model endpoint answered 404 for model {settings.model!r}: {_api_message(err)}; "
                "check --model and --base-url"
            )
        if isinstance(err, openai.APIStatusError):
            return (
                f"model endpoint rejected the request ({err.status_code}): {_api_message(err)}; "
                "if the text is too long for the model, lower --chunk-tokens"
            )
        if isinstance(err, openai.APIResponseValidationError):
            return "model endpoint answered with a body that is not a chat completion"
    if isinstance(exc, InstructorRetryException):
        cause = exc.__cause__ or exc
        if isinstance(cause, ValidationError) and cause.errors():
            first = cause.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
            detail = f"{where}: {first.get('msg', '')}"
        else:
            detail = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        return (
            f"model output failed validation after {exc.n_attempts} attempt(s): {detail}; "
            "try another --mode or a stronger model"
        )
    return f"LLM extraction failed: {type(exc).__name__}: {exc}"


class _Retry:
    """Tenacity settings for transient HTTP errors: bounded attempts, Retry-After, deadline."""

    def __init__(self, settings: LLMSettings, deadline: float) -> None:
        self.settings = settings
        self.deadline = deadline

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc) if exc is not None else None
        if asked is not None:
            return min(asked, self.settings.retry_after_max)
        s = self.settings
        ceiling = min(s.backoff_max, s.backoff_initial * 2 ** (state.attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)  # exponential backoff, jittered

    def stop(self, state: RetryCallState) -> bool:
        if state.attempt_number > self.settings.max_retries:
            return True
        upcoming = getattr(state, "upcoming_sleep", 0.0) or 0.0
        return time.monotonic() + upcoming >= self.deadline

    def kwargs(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(_transient),
            "wait": self.wait,
            "stop": self.stop,
            "reraise": True,
        }


@dataclass
class _DocumentRun:
    """State of one document's extraction: the meter and the deadline."""

    settings: LLMSettings
    meter: _Meter
    deadline: float

    def request_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _DeadlineExceeded(
                f"gave up after total_timeout={self.settings.total_timeout:g}s for the document; "
                "raise the total timeout or lower --chunk-tokens"
            )
        return _pass_through({**kwargs, "timeout": min(self.settings.timeout, remaining)})

    def request_deadline(self, request: dict[str, Any]) -> float:
        """When this request must be over, however its answer trickles in."""
        return min(time.monotonic() + float(request["timeout"]), self.deadline)


async def _within(call: Any, deadline: float) -> Any:
    """`await call`, but no later than `deadline` (a client brought by the caller has no
    deadline transport): a late answer is an openai timeout, retried like one."""
    try:
        return await asyncio.wait_for(call, timeout=max(deadline - time.monotonic(), 0.001))
    except asyncio.TimeoutError as exc:
        raise openai.APITimeoutError(
            request=httpx.Request("POST", "https://model.invalid/v1/chat/completions")
        ) from exc


# Parameters that openai's per-request type transform walks without changing anything: the
# JSON Schema and the messages (plain strings; chat message params have no aliased or file
# fields). The walk tries every variant of every union at every node, about 2 ms of CPU a
# request, a third of a model call's client-side cost in a batch. Sent as `extra_body` they go
# out unchanged, and the request body is the same JSON.
_PASS_THROUGH = ("messages", "response_format", "tools", "tool_choice")


def _pass_through(kwargs: dict[str, Any]) -> dict[str, Any]:
    moved = {key: kwargs.pop(key) for key in _PASS_THROUGH if key in kwargs}
    if moved:
        kwargs["extra_body"] = {**(kwargs.get("extra_body") or {}), **moved}
    if "messages" in moved:  # required by create(); extra_body's copy is what the body holds
        kwargs["messages"] = []
    return kwargs


@functools.cache
def _check_each_response_model_once() -> None:
    """instructor checks the response model for async validators (which its runtime cannot
    run) about four times a request, walking every field each time: ~1.3 ms of CPU a request.
    The answer for a class does not change, so instructor's own check runs once per class and
    a class that passed is not walked again (ours is checked here, when the first extractor is
    built). Other behaviour of instructor is unchanged."""
    try:
        from instructor.v2.core import patch as instructor_patch
        from instructor.v2.validation import async_validators
    except ImportError:  # another instructor layout: its checks run as they are
        return
    original = async_validators.reject_async_validators
    passed: weakref.WeakSet[type] = weakref.WeakSet()

    @functools.wraps(original)
    def check_once(response_model: Any) -> None:
        if isinstance(response_model, type) and response_model in passed:
            return
        original(response_model)
        if isinstance(response_model, type):
            passed.add(response_model)

    async_validators.reject_async_validators = check_once
    if getattr(instructor_patch, "reject_async_validators", None) is original:
        instructor_patch.reject_async_validators = check_once
    check_once(ExtractedStack)  # now, before a batch forks, not on the first request


class LLMExtractor:
    """Extract a Stack with a language model behind an OpenAI-compatible API.

    Keyword arguments override the environment (OPENAI_API_KEY, OPENAI_BASE_URL,
    STACKEXTRACT_MODEL, STACKEXTRACT_LLM_MODE). `client`/`async_client` let a caller bring
    configured openai clients. With `hints`, the names the offline extractor finds are
    passed to the model as candidates (from `hint_source`, default: the heuristic extractor).
    """

    name = BACKEND

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        mode: str | None = None,
        max_tokens: int | None = None,
        chunk_tokens: int | None = None,
        hints: bool = False,
        hint_source: HintSource | None = None,
        client: openai.OpenAI | None = None,
        async_client: openai.AsyncOpenAI | None = None,
        catalog: Catalog | None = None,
        settings: LLMSettings | None = None,
        prompts: Prompts | None = None,
        **options: Any,
    ) -> None:
        given = {
            "model": model,
            "base_url": base_url,
            "api_key": api_key,
            "mode": mode,
            "max_tokens": max_tokens,
            "chunk_tokens": chunk_tokens,
            **options,
        }
        if settings is None:
            settings = LLMSettings.resolve(**given)
        else:
            changes = {k: v for k, v in given.items() if v is not None}
            settings = settings.with_(**changes) if changes else settings
            if settings.mode not in MODES:
                raise ConfigError(f"unknown LLM mode {settings.mode!r}; use one of {list(MODES)}")
        if client is None and async_client is None:
            settings.require_endpoint()
        self.settings = settings
        _remember_secret(settings.api_key)
        remember_url_secrets(settings.base_url)
        for given_client in (client, async_client):
            _remember_secret(getattr(given_client, "api_key", None))
        _guard_loggers()  # loggers of modules imported since
        _check_each_response_model_once()
        self.hints = hints
        self.hint_source = hint_source
        self.prompts = prompts or load_prompts()
        self._catalog = catalog
        self._client = client.with_options(max_retries=0) if client is not None else None
        self._async_client = (
            async_client.with_options(max_retries=0) if async_client is not None else None
        )
        self._request_limit: int | None = None
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._gate: Callable[[], contextlib.AbstractAsyncContextManager[Any]] | None = None

    def limit_requests(self, limit: int | None) -> None:
        """Allow at most `limit` model requests in flight at once across every document
        (None: no cap beyond `chunk_concurrency` per document). A batch sets it to its
        concurrency, so that chunked documents cannot multiply the load on the endpoint."""
        if limit is not None and limit < 1:
            raise ConfigError("the request limit must be at least 1")
        self._request_limit = limit
        self._slots = None

    def gate_requests(
        self, gate: Callable[[], contextlib.AbstractAsyncContextManager[Any]] | None
    ) -> None:
        """Also hold `gate()` around every model request (after this extractor's own slot):
        a cap shared by many processes, e.g. the cluster-wide one of stackextract.ray."""
        self._gate = gate

    def _request_slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        if self._gate is not None:
            return self._gated_slot(self._gate)
        return self._local_slot()

    @contextlib.asynccontextmanager
    async def _gated_slot(
        self, gate: Callable[[], contextlib.AbstractAsyncContextManager[Any]]
    ) -> AsyncIterator[None]:
        async with self._local_slot(), gate():
            yield

    def _local_slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        limit = self._request_limit
        if limit is None:
            return contextlib.nullcontext()
        loop = asyncio.get_running_loop()
        slots = self._slots
        if slots is None or slots[0] is not loop:  # a semaphore belongs to one event loop
            slots = self._slots = (loop, asyncio.Semaphore(limit))
        return slots[1]

    def __repr__(self) -> str:
        return f"LLMExtractor({self.settings!r}, hints={self.hints})"

    # -- identity ---------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def prompt_version(self) -> str:
        return self.prompts.version

    def config_key(self) -> str:
        """Cache key: what changes the output (never the key or the URL)."""
        s = self.settings
        parts = {
            "backend": BACKEND,
            "model": s.model,
            "prompt_version": self.prompts.version,
            "schema_version": SCHEMA_VERSION,
            "mode": s.mode,
            "hints": self.hints,
            "chunk_tokens": s.chunk_tokens,
            # grounding and canonical names follow the catalog (bundled or the user's)
            "catalog": self.catalog.fingerprint if self.catalog is not None else None,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    # -- clients ----------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog | None:
        if self._catalog is None:
            try:
                from stackextract.catalog.vocabulary import Catalog

                self._catalog = Catalog.default()
            except ImportError:  # pragma: no cover - catalog ships with the package
                return None
        return self._catalog

    def _client_kwargs(self) -> dict[str, Any]:
        s = self.settings
        return {
            "api_key": s.client_key(),
            "base_url": s.base_url,
            "timeout": s.timeout,
            "max_retries": 0,
        }

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            http = openai.DefaultHttpxClient(
                verify=ssl_context(), transport=_CappedTransport(self.settings.max_response_bytes)
            )
            self._client = openai.OpenAI(http_client=http, **self._client_kwargs())
        return self._client

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        if self._async_client is None:
            # one TLS context per process instead of one per client (~80 ms each)
            http = openai.DefaultAsyncHttpxClient(
                verify=ssl_context(),
                transport=_ACappedTransport(self.settings.max_response_bytes),
            )
            self._async_client = openai.AsyncOpenAI(http_client=http, **self._client_kwargs())
        return self._async_client

    def prepare(self, *, in_process: bool = False) -> None:
        """Pay the one-time set-up before the first document instead of during it.

        Before a fork (the default) only modules are loaded: what openai, httpx and
        instructor import lazily on the first request, shared by every forked process.
        With `in_process=True` (inside a model-call process) the HTTP client is built too;
        a client must not cross a fork.
        """
        preload()
        # the response model's JSON Schema, built once here (and shared by forked processes)
        # instead of on the first request of each process
        ExtractedStack.model_json_schema()
        if in_process:
            self.async_client  # noqa: B018  (httpx transport, TLS context)

    # -- request building -------------------------------------------------------------
    def _hint_names(self, doc: Document) -> list[str]:
        if not self.hints:
            return []
        source = self.hint_source or default_hints
        return list(dict.fromkeys(n for n in source(doc) if n))

    def _messages(self, doc: Document, chunk: Chunk, parts: int, hints: list[str]) -> list[Any]:
        in_chunk = [n for n in hints if n.casefold() in chunk.text.casefold()][:MAX_HINTS]
        return build_messages(
            self.prompts,
            chunk.text,
            title=doc.title,
            part=chunk.index + 1,
            parts=parts,
            hints=in_chunk or None,
        )

    def _create_kwargs(self, messages: list[Any]) -> dict[str, Any]:
        s = self.settings
        return {
            "response_model": ExtractedStack,
            "messages": messages,
            "model": s.model,
            "temperature": s.temperature,
            "max_tokens": s.max_tokens,
            "max_retries": s.max_reasks,
            "strict": False,
        }

    def _provenance(self, meter: _Meter, started: float, chunks: int) -> Provenance:
        return Provenance(
            backend=BACKEND,
            model=self.settings.model,
            prompt_version=self.prompts.version,
            stackextract_version=__version__,
            usage=meter.usage(),
            duration_s=round(time.monotonic() - started, 3),
            chunks=chunks,
        )

    def _finish(
        self, doc: Document, results: list[ExtractedStack], run: _DocumentRun, started: float
    ) -> Stack:
        provenance = self._provenance(run.meter, started, max(1, len(results)))
        stacks = [
            to_stack(r, doc, provenance=provenance, catalog=self.catalog) for r in results
        ]
        if not stacks:
            return Stack(source=doc.to_source(), provenance=provenance)
        return _redact_stack(merge_stacks(
            stacks, source=doc.to_source(), provenance=provenance, catalog=self.catalog
        ))

    def _error(self, exc: BaseException, doc: Document, run: _DocumentRun) -> ExtractionError:
        attempts = run.meter.attempts
        message = one_line(redact(_explain(exc, self.settings, attempts)), limit=300)
        _redact_exceptions(exc)
        return ExtractionError(message, url=doc.url or doc.path, attempts=max(1, attempts))

    # -- sync -------------------------------------------------------------------------
    def extract(self, doc: Document) -> Stack:
        """The Stack of one document (ungrounded quotes); raises ExtractionError."""
        started = time.monotonic()
        run = _DocumentRun(self.settings, _Meter(), started + self.settings.total_timeout)
        chunks = chunk_text(doc.text, max_tokens=self.settings.chunk_tokens)
        hints = self._hint_names(doc) if chunks else []
        client = self.client
        retry = _Retry(self.settings, run.deadline)

        def raw_create(**kwargs: Any) -> Any:
            for attempt in Retrying(**retry.kwargs()):
                with attempt:
                    run.meter.attempts += 1
                    try:
                        request = run.request_kwargs(kwargs)
                        with network_deadline(run.request_deadline(request)):
                            response = client.chat.completions.create(**request)
                    except json.JSONDecodeError as exc:
                        raise _Unusable(NOT_JSON) from exc
            run.meter.add(response)
            _check_response(response, self.settings)
            return response

        create = instructor.patch(create=raw_create, mode=MODES[self.settings.mode])
        results = []
        try:
            for chunk in chunks:
                messages = self._messages(doc, chunk, len(chunks), hints)
                results.append(create(**self._create_kwargs(messages)))
        except Exception as exc:
            raise self._error(exc, doc, run) from exc
        return self._finish(doc, results, run, started)

    # -- async ------------------------------------------------------------------------
    async def aextract(self, doc: Document) -> Stack:
        """Async `extract`: chunks run concurrently (bounded by `chunk_concurrency`)."""
        started = time.monotonic()
        run = _DocumentRun(self.settings, _Meter(), started + self.settings.total_timeout)
        chunks = chunk_text(doc.text, max_tokens=self.settings.chunk_tokens)
        hints = self._hint_names(doc) if chunks else []
        client = self.async_client
        retry = _Retry(self.settings, run.deadline)

        async def raw_create(**kwargs: Any) -> Any:
            async for attempt in AsyncRetrying(**retry.kwargs()):
                with attempt:
                    run.meter.attempts += 1
                    try:
                        async with self._request_slot():
                            request = run.request_kwargs(kwargs)
                            with network_deadline(run.request_deadline(request)):
                                response = await _within(
                                    client.chat.completions.create(**request),
                                    run.request_deadline(request),
                                )
                    except json.JSONDecodeError as exc:
                        raise _Unusable(NOT_JSON) from exc
            run.meter.add(response)
            _check_response(response, self.settings)
            return response

        create = instructor.patch(create=raw_create, mode=MODES[self.settings.mode])
        gate = asyncio.Semaphore(self.settings.chunk_concurrency)

        async def one(chunk: Chunk) -> ExtractedStack:
            async with gate:
                messages = self._messages(doc, chunk, len(chunks), hints)
                result: ExtractedStack = await create(**self._create_kwargs(messages))
                return result

        tasks = [asyncio.ensure_future(one(c)) for c in chunks]
        try:
            results = list(await asyncio.gather(*tasks))
        except Exception as exc:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise self._error(exc, doc, run) from exc
        return self._finish(doc, results, run, started)


def preload() -> None:
    """Import what openai, httpx and instructor otherwise import on the first request
    (~0.3-0.5 s of CPU), e.g. in a long-running process before its first document."""
    for module in (
        "anyio._backends._asyncio",  # anyio imports its backend and streams on first use
        "anyio.streams.tls",
        "anyio.lowlevel",
        "httpcore",
        "openai.resources.chat",
        "instructor.v2.providers.openai",
    ):
        with contextlib.suppress(ImportError):  # anyio's and instructor's are internal
            importlib.import_module(module)
    ssl_context()


def default_hints(doc: Document) -> list[str]:
    """Candidate tool names from the offline extractor (or the catalog matcher)."""
    try:
        from stackextract.offline.extractor import HeuristicExtractor

        return [t.name for t in HeuristicExtractor().extract(doc).tools]
    except ImportError:
        from stackextract.catalog.vocabulary import Catalog

        return [m.entry.name for m in Catalog.default().find_mentions(doc.text)]
