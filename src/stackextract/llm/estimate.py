"""What a document would cost the model, without asking it: chunks, input and output tokens.

The input estimate is the request a run would send, built the same way (chunks, the prompt,
the hints, and the response schema as instructor adds it for the mode), measured with the
project's tokenizer estimate (`chunking.estimate_tokens`). The output estimate is the answer
a document of that size typically gets: a fixed part plus a share of the chunk, capped by
`max_tokens`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stackextract.llm.chunking import chunk_text, estimate_tokens
from stackextract.models import Document

OUTPUT_BASE_TOKENS = 120  # the empty answer's structure (company, four lists)
OUTPUT_SHARE = 0.06  # answer tokens per chunk token (quotes and names, a little of the text)


@dataclass
class Estimate:
    """Requests (chunks) and tokens a document would use."""

    chunks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def __iadd__(self, other: Estimate) -> Estimate:
        self.chunks += other.chunks
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        return self


def _request_text(extractor: Any, messages: list[Any]) -> str:
    """The JSON a request would carry: messages plus what instructor adds for the mode."""
    import instructor
    from instructor.processing.response import handle_response_model

    from stackextract.llm.extractor import MODES
    from stackextract.llm.schema import ExtractedStack

    kwargs = extractor._create_kwargs(messages)
    kwargs.pop("max_retries", None)
    kwargs.pop("strict", None)
    mode = MODES[extractor.settings.mode]
    try:
        _, request = handle_response_model(ExtractedStack, mode=mode, **{
            k: v for k, v in kwargs.items() if k != "response_model"})
    except Exception:  # an instructor change: the messages alone are still most of it
        request = {"messages": messages}
    del instructor
    return json.dumps(request, default=str)


def estimate_document(extractor: Any, doc: Document) -> Estimate:
    """The chunks and tokens `extractor` (an LLMExtractor) would spend on `doc`."""
    chunks = chunk_text(doc.text, max_tokens=extractor.settings.chunk_tokens)
    hints = extractor._hint_names(doc) if chunks else []
    total = Estimate()
    cap = extractor.settings.max_tokens
    for chunk in chunks:
        messages = extractor._messages(doc, chunk, len(chunks), hints)
        total.chunks += 1
        total.input_tokens += estimate_tokens(_request_text(extractor, messages))
        out = OUTPUT_BASE_TOKENS + int(OUTPUT_SHARE * chunk.tokens)
        total.output_tokens += min(out, cap) if cap else out
    return total
