"""The Extractor protocol and the backend names users pick from: offline, llm, auto."""

from __future__ import annotations

import os
from typing import Any, Protocol, runtime_checkable

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


def llm_configured(settings: dict[str, Any] | None = None) -> bool:
    """Is a model endpoint configured (by argument or environment)?"""
    settings = settings or {}
    return bool(
        settings.get("api_key") or settings.get("base_url")
        or os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    )


def resolve_backend(backend: str = "auto", **settings: Any) -> str:
    """'auto' becomes 'llm' when a key or base URL is configured, otherwise 'offline'."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "llm" if llm_configured(settings) else "offline"
    return backend


OFFLINE_SETTINGS = frozenset({"catalog", "propose_unknown"})


def _llm_setting_names() -> set[str]:
    from dataclasses import fields

    from stackextract.llm.settings import LLMSettings

    extra = {"hints", "hint_source", "client", "async_client", "catalog", "settings", "prompts"}
    return {f.name for f in fields(LLMSettings)} | extra


def get_extractor(backend: str = "auto", **settings: Any) -> Extractor:
    """An extractor for `backend`; keyword settings go to its constructor."""
    resolved = resolve_backend(backend, **settings)
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
