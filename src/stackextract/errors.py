"""Exceptions with a stage and a one-line message that says what to do next."""

from __future__ import annotations


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
