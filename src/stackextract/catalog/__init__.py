"""The tool vocabulary: canonical names, aliases, categories, and the matcher that finds them.

Takes: text. Gives: `Mention`s of catalog entries (word-boundary and case aware). Used by the
offline extractor (candidates), grounding (is a name in the text?) and the LLM backend (hints).
The bundled data is `stackextract/data/catalog.json`; a user file merges over it.
"""

from __future__ import annotations

from stackextract.catalog.vocabulary import (
    Catalog,
    CatalogEntry,
    Mention,
    clean_name,
    is_common_word,
    needs_code,
    squash,
    tokenize,
)

__all__ = ["Catalog", "CatalogEntry", "Mention", "clean_name", "is_common_word", "needs_code",
           "squash", "tokenize"]
