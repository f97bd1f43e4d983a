"""Merge the Stacks extracted from the chunks of one document into one Stack.

Tools are deduplicated by canonical name (case-insensitive). Status rule, in order:

1. A tool that is the `to_tool` of a migration is `uses`; one that is only ever a
   `from_tool` is `used_previously`. Migrations are the most explicit statements.
2. Otherwise `uses` is what a model says by default; `used_previously`, `evaluated` and
   `planned` need a cue in the text, so they are the specific statements. If any chunk
   gave a specific status, the last one given (in document order) wins: writeups tell
   their history in order, so the latest statement is the current state.
3. Otherwise `uses`.

Reasons, regrets and migrations are unioned, deduplicated by tool(s) and text/quote;
evidence is unioned and deduplicated by quote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from stackextract.models import (
    Category,
    Evidence,
    Migration,
    Provenance,
    Reason,
    Regret,
    Source,
    Stack,
    Status,
    Tool,
    Usage,
)

if TYPE_CHECKING:
    from stackextract.catalog.vocabulary import Catalog

MAX_EVIDENCE = 3
T = TypeVar("T", Reason, Regret)


def _norm(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .,;:!\"'")


def _union_evidence(*lists: list[Evidence], limit: int = MAX_EVIDENCE) -> list[Evidence]:
    seen: set[str] = set()
    result = []
    for evidence in lists:
        for e in evidence:
            key = _norm(e.quote)
            if key in seen:
                continue
            seen.add(key)
            result.append(e)
    return result[:limit]


def reconcile_status(
    statuses: Sequence[Status], *, migrated_to: bool, migrated_from: bool
) -> Status:
    """The status of a tool given every status stated for it, in document order (rule above)."""
    if migrated_to:
        return Status.uses
    if migrated_from:
        return Status.used_previously
    specific = [s for s in statuses if s != Status.uses]
    return specific[-1] if specific else Status.uses


def sum_usage(usages: Sequence[Usage]) -> Usage:
    return Usage(
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        total_tokens=sum(u.total_tokens for u in usages),
        requests=sum(u.requests for u in usages),
        attempts=sum(u.attempts for u in usages),
    )


def merge_stacks(
    stacks: Sequence[Stack],
    *,
    source: Source | None = None,
    provenance: Provenance | None = None,
    catalog: Catalog | None = None,
) -> Stack:
    """One Stack from the Stacks of a document's chunks, given in document order.

    `source`/`provenance` default to the first stack's (provenance with usage summed).
    `catalog` maps names to canonical ones; without it the tools' own `canonical` is used.
    """
    if not stacks and (source is None or provenance is None):
        raise ValueError("merge_stacks needs at least one stack, or a source and a provenance")

    def key(name: str) -> str:
        if catalog is not None:
            entry = catalog.lookup(name)
            if entry is not None:
                return entry.name.casefold()
        return _norm(name)

    tool_keys: dict[str, Tool] = {}
    statuses: dict[str, list[Status]] = {}
    for stack in stacks:
        for tool in stack.tools:
            k = key(tool.canonical) if tool.canonical else key(tool.name)
            statuses.setdefault(k, []).append(tool.status)
            old = tool_keys.get(k)
            if old is None:
                tool_keys[k] = tool
                continue
            tool_keys[k] = old.model_copy(
                update={
                    "category": old.category if old.category != Category.other else tool.category,
                    "purpose": old.purpose or tool.purpose,
                    "confidence": max(old.confidence, tool.confidence),
                    "in_catalog": old.in_catalog or tool.in_catalog,
                    "evidence": _union_evidence(old.evidence, tool.evidence),
                }
            )

    migrations: dict[tuple[str, str], Migration] = {}
    for stack in stacks:
        for m in stack.migrations:
            mk = (key(m.from_tool), key(m.to_tool))
            old_m = migrations.get(mk)
            if old_m is None:
                migrations[mk] = m
                continue
            reasons = list(dict.fromkeys([*old_m.reasons, *m.reasons]))
            migrations[mk] = old_m.model_copy(
                update={
                    "reasons": reasons,
                    "confidence": max(old_m.confidence, m.confidence),
                    "evidence": _union_evidence(old_m.evidence, m.evidence),
                }
            )
    to_keys = {k[1] for k in migrations}
    from_keys = {k[0] for k in migrations}

    tools = [
        tool.model_copy(
            update={
                "status": reconcile_status(
                    statuses[k], migrated_to=k in to_keys, migrated_from=k in from_keys
                )
            }
        )
        for k, tool in tool_keys.items()
    ]

    def union(items: list[T]) -> list[T]:
        result: dict[tuple[str, str], T] = {}
        for item in items:
            quote = item.evidence[0].quote if item.evidence else ""
            ik = (key(item.tool), _norm(quote) or _norm(item.text))
            old_i = result.get(ik)
            if old_i is None:
                result[ik] = item
            else:
                update: dict[str, object] = {
                    "evidence": _union_evidence(old_i.evidence, item.evidence)
                }
                if isinstance(old_i, Regret) and isinstance(item, Regret):
                    update["would_instead"] = old_i.would_instead or item.would_instead
                result[ik] = old_i.model_copy(update=update)
        return list(result.values())

    companies = Counter(s.company for s in stacks if s.company)
    company = companies.most_common(1)[0][0] if companies else None
    if provenance is None:
        first = stacks[0].provenance
        provenance = first.model_copy(
            update={
                "usage": sum_usage([s.provenance.usage for s in stacks]),
                "duration_s": sum(s.provenance.duration_s for s in stacks),
                "dropped_items": sum(s.provenance.dropped_items for s in stacks),
                "chunks": len(stacks),
            }
        )
    return Stack(
        source=source if source is not None else stacks[0].source,
        company=company,
        tools=tools,
        reasons=union([r for s in stacks for r in s.reasons]),
        regrets=union([r for s in stacks for r in s.regrets]),
        migrations=list(migrations.values()),
        provenance=provenance,
    )
