"""The LLM backend: instructor over the openai client, any OpenAI-compatible endpoint.

Takes: a `Document` and settings (model, base URL, key, mode). Gives: an ungrounded `Stack`
with token usage. Parts: settings, prompts (versioned files), chunking, the LLM-facing
schema, merge of chunk results, `extractor.LLMExtractor` (client, retries, redaction), and
`estimate.estimate_document` (the requests and tokens a document would cost, sending nothing).
`LLMExtractor` is imported on first use: openai and instructor cost about a second to load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackextract.llm.settings import LLMSettings, llm_configured

if TYPE_CHECKING:
    from stackextract.llm.extractor import LLMExtractor, preload

__all__ = ["LLMExtractor", "LLMSettings", "llm_configured", "preload"]


def __getattr__(name: str) -> Any:
    if name in ("LLMExtractor", "preload"):
        from stackextract.llm import extractor

        return getattr(extractor, name)
    raise AttributeError(f"module 'stackextract.llm' has no attribute {name!r}")
