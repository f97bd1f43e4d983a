"""One document from source to grounded Stack: load, extract, ground, filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackextract.catalog.vocabulary import Catalog
from stackextract.extractors import Extractor, get_extractor
from stackextract.grounding.locate import ground_stack
from stackextract.models import Document, Stack
from stackextract.sources.load import aload, load

# the offline backend's items carry calibrated probabilities and it emits each kind only above
# the threshold its cross-validation chose (tools 0.5, opinions and migrations 0.2); this
# floor keeps what a backend emits unless the caller asks for more certainty
DEFAULT_MIN_CONFIDENCE = 0.2
# a document scored less likely than this to be a stack writeup keeps no items by default
DEFAULT_MIN_RELEVANCE = 0.5


def finish(
    stack: Stack,
    document: Document,
    *,
    strict: bool = False,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    catalog: Catalog | None = None,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
) -> Stack:
    """Ground every item in the text and keep what clears `min_confidence`.

    A document whose `relevance` is under `min_relevance` (not a stack writeup) keeps nothing.
    """
    stack = ground_stack(stack, document, strict=strict, catalog=catalog)
    if stack.relevance is not None and stack.relevance < min_relevance:
        return stack.model_copy(update={"tools": [], "reasons": [], "regrets": [],
                                        "migrations": []})
    if min_confidence <= 0:
        return stack
    tools = [t for t in stack.tools if t.confidence >= min_confidence]
    names = {n.casefold() for t in tools for n in (t.name, t.canonical)}

    def keep(item: Any, *attrs: str) -> bool:
        return item.confidence >= min_confidence and all(
            getattr(item, a).casefold() in names for a in attrs
        )

    return stack.model_copy(update={
        "tools": tools,
        "reasons": [r for r in stack.reasons if keep(r, "tool")],
        "regrets": [r for r in stack.regrets if keep(r, "tool")],
        "migrations": [m for m in stack.migrations if keep(m, "from_tool", "to_tool")],
    })


def stored_config_key(
    extractor: Extractor, *, strict: bool = False, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
) -> str:
    """The key an extraction is stored and cached under: the extractor's configuration
    (which covers its catalog and data files) plus the output filters when not the defaults."""
    key = str(extractor.config_key())
    if strict or min_confidence != DEFAULT_MIN_CONFIDENCE:
        key += f"-strict{int(strict)}-min{min_confidence:g}"
    if min_relevance != DEFAULT_MIN_RELEVANCE:
        key += f"-rel{min_relevance:g}"
    return key


def process_document(
    document: Document,
    extractor: Extractor,
    *,
    strict: bool = False,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
) -> Stack:
    """Extract and ground one already-loaded document."""
    stack = finish(extractor.extract(document), document, strict=strict,
                   min_confidence=min_confidence, catalog=getattr(extractor, "catalog", None),
                   min_relevance=min_relevance)
    return stack.attach_text(document.text)  # for the notebook view; not stored


async def aprocess_document(
    document: Document,
    extractor: Extractor,
    *,
    strict: bool = False,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
) -> Stack:
    stack = await extractor.aextract(document)
    stack = finish(stack, document, strict=strict, min_confidence=min_confidence,
                   catalog=getattr(extractor, "catalog", None),
                   min_relevance=min_relevance)
    return stack.attach_text(document.text)


def extract(
    source: str | Path | Document,
    *,
    backend: str | None = None,
    extractor: Extractor | None = None,
    strict: bool = False,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    allow_private: bool = False,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
    **settings: Any,
) -> Stack:
    """The stack of a writeup: a URL, a path, raw HTML/markdown/text, or a Document.

    `backend` is "offline" (no network, no key), "llm", or "auto" (the LLM when
    OPENAI_API_KEY or OPENAI_BASE_URL is set; it says so once on stderr); the default is
    $STACKEXTRACT_BACKEND, else "offline". Every item comes back grounded in the text.
    A page the offline model scores under `min_relevance` (not a stack writeup) keeps nothing.
    """
    document = load(source, allow_private=allow_private)
    extractor = extractor or get_extractor(backend, **settings)
    return process_document(document, extractor, strict=strict, min_confidence=min_confidence,
                            min_relevance=min_relevance)


async def aextract(
    source: str | Path | Document,
    *,
    backend: str | None = None,
    extractor: Extractor | None = None,
    strict: bool = False,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    allow_private: bool = False,
    min_relevance: float = DEFAULT_MIN_RELEVANCE,
    **settings: Any,
) -> Stack:
    """Async `extract`."""
    document = await aload(source, allow_private=allow_private)
    extractor = extractor or get_extractor(backend, **settings)
    return await aprocess_document(document, extractor, strict=strict,
                                   min_confidence=min_confidence, min_relevance=min_relevance)
