"""Exceptions with a stage and a one-line message that says what to do next."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


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
    """The page could not be downloaded: network, status, size or content-type problems."""

    stage = "fetch"


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


def one_line(text: str, limit: int = 500) -> str:
    """`text` on one line (whitespace runs become one space), cut to `limit` characters:
    how messages go into a terminal line, a log line or a failures row."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_fields(exc: BaseException) -> tuple[str, str, str, int]:
    """(stage, error type, one-line message, attempts): how a failure is recorded."""
    if isinstance(exc, StackExtractError):
        return exc.stage, exc.kind, str(exc), getattr(exc, "attempts", 1) or 1
    message = one_line(f"{type(exc).__name__}: {exc}")
    return getattr(exc, "_stackextract_stage", "extract"), type(exc).__name__, message, 1
