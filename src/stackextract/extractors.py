"""The Extractor protocol and the backend names users pick from: offline, llm, auto."""

from __future__ import annotations

import os
import sys
from typing import Any, Protocol, TextIO, runtime_checkable

from stackextract.errors import ConfigError
from stackextract.models import Document, Stack, config_hash  # noqa: F401 (re-exported)

BACKENDS = ("auto", "offline", "llm")


@runtime_checkable
class Extractor(Protocol):
    """Anything that turns a Document into a Stack (ungrounded; the pipeline grounds it)."""

    name: str

    def extract(self, document: Document) -> Stack: ...

    async def aextract(self, document: Document) -> Stack: ...

    def config_key(self) -> str: ...


BACKEND_ENV = "STACKEXTRACT_BACKEND"


def llm_configured(settings: dict[str, Any] | None = None) -> bool:
    """Is a model endpoint configured (by argument or environment)?"""
    return _why_llm(settings or {}) is not None


def _why_llm(settings: dict[str, Any]) -> str | None:
    """What configures a model endpoint, in a few words, or None."""
    if settings.get("api_key"):
        return "an API key was given"
    if settings.get("base_url"):
        return "a base URL was given"
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        if os.environ.get(name):
            return f"{name} is set"
    return None


def default_backend() -> str:
    """The backend when none is named: $STACKEXTRACT_BACKEND, else offline (never a paid
    model just because a key happens to be in the environment)."""
    return os.environ.get(BACKEND_ENV, "").strip().lower() or "offline"


def resolve_backend(backend: str | None = None, **settings: Any) -> str:
    """The backend to use: `None` is the default (see `default_backend`); 'auto' is 'llm'
    when a key or base URL is configured, otherwise 'offline'."""
    if backend is None:
        backend = default_backend()
        if backend not in BACKENDS:
            raise ConfigError(
                f"{BACKEND_ENV}={backend!r} is not a backend; choose one of: {', '.join(BACKENDS)}"
            )
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "llm" if llm_configured(settings) else "offline"
    return backend


_announced: set[str] = set()


def auto_choice(settings: dict[str, Any] | None = None) -> tuple[str, str]:
    """(backend, why) for 'auto'."""
    why = _why_llm(settings or {})
    if why is not None:
        return "llm", f"{why}; model requests may cost money"
    return "offline", "no API key or base URL is configured"


def announce_backend(
    asked: str | None, resolved: str, settings: dict[str, Any] | None = None, *,
    stream: TextIO | None = None,
) -> None:
    """Say once per process which backend 'auto' chose and why (nothing for a named one)."""
    if asked is None:
        asked = default_backend()
    if asked != "auto":
        return
    _, why = auto_choice(settings)
    line = f"backend: {resolved} (auto: {why})"
    if line in _announced:
        return
    _announced.add(line)
    print(line, file=stream if stream is not None else sys.stderr, flush=True)


OFFLINE_SETTINGS = frozenset({"catalog", "propose_unknown"})


def _llm_setting_names() -> set[str]:
    from dataclasses import fields

    from stackextract.llm.settings import LLMSettings

    extra = {"hints", "hint_source", "client", "async_client", "catalog", "settings", "prompts"}
    return {f.name for f in fields(LLMSettings)} | extra


def get_extractor(backend: str | None = None, **settings: Any) -> Extractor:
    """An extractor for `backend` (None: $STACKEXTRACT_BACKEND, else offline; 'auto' says
    once on stderr what it chose and why); keyword settings go to its constructor."""
    resolved = resolve_backend(backend, **settings)
    announce_backend(backend, resolved, settings)
    catalog_path = settings.pop("catalog_path", None)
    if catalog_path and "catalog" not in settings:
        from stackextract.catalog.vocabulary import Catalog

        settings["catalog"] = Catalog.default(extra=catalog_path)
    if resolved == "offline":
        from stackextract.offline.extractor import HeuristicExtractor

        # the LLM's settings are let through (ignored) so that "auto" can fall back offline;
        # anything else is a mistake worth saying (a typo would otherwise change nothing)
        unknown = set(settings) - OFFLINE_SETTINGS - _llm_setting_names()
        if unknown:
            raise ConfigError(
                f"unknown setting(s) for the offline backend: {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(sorted(OFFLINE_SETTINGS | {'catalog_path'}))}"
            )
        return HeuristicExtractor(
            **{k: v for k, v in settings.items() if k in OFFLINE_SETTINGS}
        )
    try:
        from stackextract.llm.extractor import LLMExtractor
    except ImportError as exc:  # pragma: no cover - only when the llm module is broken
        raise ConfigError(f"the llm backend cannot be loaded: {exc}") from exc
    return LLMExtractor(**{k: v for k, v in settings.items() if v is not None})
