"""Exceptions with a stage and a one-line message that says what to do next."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit


class StackExtractError(Exception):
    """Base class. `stage` names the pipeline step that failed (fetch, clean, extract, store)."""

    stage = "extract"

    def __init__(self, message: str, *, url: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts

    @property
    def kind(self) -> str:
        return type(self).__name__


class InputError(StackExtractError):
    """The source given cannot be read (missing file, empty list, unsupported kind)."""

    stage = "input"


class FetchError(StackExtractError):
    """The page could not be downloaded: network, status, size or content-type problems.
    `status_code` is the HTTP status when the server answered with an error."""

    stage = "fetch"
    status_code: int | None = None


class BlockedURLError(FetchError):
    """The URL points at a private, loopback or non-http(s) address and that is not allowed."""


class CleanError(StackExtractError):
    """The page was downloaded but holds no article text."""

    stage = "clean"


class ExtractionError(StackExtractError):
    """The extractor (usually the model endpoint) failed after its retries."""

    stage = "extract"


class ConfigError(StackExtractError):
    """Settings are missing or contradictory (e.g. backend=llm without a key or base URL)."""

    stage = "config"


class StoreError(StackExtractError):
    """The database could not be written (locked, read-only, full)."""

    stage = "store"


@contextlib.contextmanager
def tag_stage(name: str) -> Iterator[None]:
    """Tag an unexpected (non-StackExtractError) exception with the pipeline stage it came
    from, so that a batch can record where a library error or a bug happened."""
    try:
        yield
    except Exception as exc:
        if not hasattr(exc, "_stackextract_stage"):
            with contextlib.suppress(AttributeError, TypeError):
                exc._stackextract_stage = name  # type: ignore[attr-defined]
        raise


# --- secrets: what this process was given never goes into a message, a row or an output ----

_KEYLIKE = re.compile(r"\b(sk|key|token)-[A-Za-z0-9_\-]{6,}")
_CREDENTIAL = re.compile(r"(?i)\b(?:bearer|basic)\s+[^\s'\",;)}\]]+")
# user:password@ in a URL, and the values of query parameters that usually hold secrets
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")
SECRET_PARAMS = ("api-key", "api_key", "apikey", "key", "token", "access_token",
                 "access-token", "auth", "password", "passwd", "secret", "sig", "signature",
                 "client_secret", "x-api-key")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=)[^&#\s'\"<>]+"
)
KNOWN_SECRETS: set[str] = set()  # keys (and URL credentials) handed over in this process


def remember_secret(value: str | None) -> None:
    """Redact `value` from every message, row and output from now on (keys of 8+ chars)."""
    if value and len(value) >= 8:
        KNOWN_SECRETS.add(value)


def remember_url_secrets(url: str | None) -> None:
    """Remember the user, password and secret-looking query values of `url` (--base-url)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        for value in (parts.username, parts.password):
            remember_secret(value)
        for name, value in parse_qsl(parts.query, keep_blank_values=False):
            if name.lower() in SECRET_PARAMS:
                remember_secret(value)
    except ValueError:
        return


def redact(text: str) -> str:
    """`text` without API keys, bearer/basic credentials, URL credentials, secret query
    values, or any secret this process was given. Heads and tails of a known key go too:
    pydantic shortens long inputs to "abc...xyz"."""
    for secret in KNOWN_SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
        for size in range(len(secret) - 1, 9, -1):
            for part in (secret[:size], secret[-size:]):
                if part in text:
                    text = text.replace(part, "***")
    text = _USERINFO.sub(r"\1***@", text)
    text = _SECRET_PARAM.sub(r"\1***", text)
    return _KEYLIKE.sub(r"\1-***", _CREDENTIAL.sub("***", text))


def one_line(text: str, limit: int = 500) -> str:
    """`text` on one line (whitespace runs become one space), cut to `limit` characters, and
    redacted: how messages go into a terminal line, a log line or a failures row."""
    text = redact(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_fields(exc: BaseException) -> tuple[str, str, str, int]:
    """(stage, error type, one-line message, attempts): how a failure is recorded."""
    if isinstance(exc, StackExtractError):
        return exc.stage, exc.kind, redact(str(exc)), getattr(exc, "attempts", 1) or 1
    message = one_line(f"{type(exc).__name__}: {exc}")
    return getattr(exc, "_stackextract_stage", "extract"), type(exc).__name__, message, 1
