"""metadata.json for Datasette: titles and descriptions of our tables and views, and facets
on status and category, so `datasette stacks.db -m metadata.json` explains itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_FACETS = ["status", "category"]
_TABLES: dict[str, tuple[str, str, list[str]]] = {
    # name: (title, description, facets)
    "documents": ("Documents", "One row per source (URL or path) and content version: the "
                  "cleaned text the extractor read, with its metadata.", []),
    "extractions": ("Extractions", "One row per document and extraction configuration "
                    "(backend, model, prompt); stack_json holds the whole Stack.",
                    ["backend", "model"]),
    "tools": ("Tools", "A tool named in a writeup: canonical name, category, the team's "
              "status (uses, used_previously, evaluated, planned) and the quote behind it.",
              _FACETS),
    "reasons": ("Reasons", "Why a tool was chosen or is liked, with the quote.", ["tool"]),
    "regrets": ("Regrets", "A complaint or 'would do differently', and what the team would "
                "use instead.", ["tool"]),
    "migrations": ("Migrations", "A move from one tool to another, with the reasons.",
                   ["from_tool", "to_tool"]),
    "failures": ("Failures", "Sources that could not be processed, and why "
                 "(stackextract batch --retry-failed runs them again).", ["stage", "error_type"]),
    "latest_stacks": ("Latest stacks", "Each source with its most recent extraction.",
                      ["backend"]),
    "tool_popularity": ("Tool popularity", "How many documents name each tool, by category "
                        "and status (latest extraction per source).", _FACETS),
    "most_regretted": ("Most regretted tools", "Tools by number of regrets.", []),
    "migration_pairs": ("Migration pairs", "From -> to, with the number of migrations and of "
                        "documents.", []),
    "tools_by_document": ("Tools by document", "Every tool of every document's latest "
                          "extraction, with the source URL and title it comes from.",
                          [*_FACETS, "canonical"]),
}
_COLUMNS = {
    "quote": "The verbatim sentence of the source that supports the item.",
    "quote_start": "Character offset of the quote in documents.text.",
    "quote_end": "End offset of the quote in documents.text.",
    "grounded": "1 when the quote was found in the text.",
    "confidence": "0..1; unknown names are proposed at 0.55 or below.",
    "status": "uses, used_previously, evaluated or planned.",
    "category": "Kind of tool (database, ci_cd, monitoring, ...).",
    "canonical": "The catalog name (or the cleaned name when not in the catalog).",
}


def metadata(database: str, *, prefix: str = "", title: str | None = None) -> dict[str, Any]:
    """The metadata dict for the database named `database` (Datasette uses the file stem)."""
    tables: dict[str, Any] = {}
    for name, (label, description, facets) in _TABLES.items():
        entry: dict[str, Any] = {"title": label, "description": description}
        if facets:
            entry["facets"] = list(facets)
        if name in ("tools", "tools_by_document", "reasons", "regrets", "migrations"):
            entry["columns"] = {c: d for c, d in _COLUMNS.items()
                                if name in ("tools", "tools_by_document") or c.startswith(
                                    ("quote", "grounded", "confidence"))}
        tables[prefix + name] = entry
    return {
        "title": title or "stackextract: tech stacks from writeups",
        "description": "Tools, reasons, regrets and migrations extracted from engineering "
                       "writeups; every item carries the quote it comes from.",
        "about": "stackextract",
        "databases": {database: {"tables": tables}},
    }


def database_name(path: str | Path) -> str:
    """Datasette names a database after its file's stem."""
    return Path(path).stem
