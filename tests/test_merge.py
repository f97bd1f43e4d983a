"""Merging chunk Stacks: dedupe by canonical name, reconcile statuses, union the rest."""

from __future__ import annotations

from stackextract.catalog.vocabulary import Catalog
from stackextract.llm.merge import merge_stacks, reconcile_status
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

SOURCE = Source(content_sha256="0" * 64)


def tool(name: str, status: Status = Status.uses, quote: str = "", **kw: object) -> Tool:
    return Tool(
        name=name,
        canonical=kw.pop("canonical", name),  # type: ignore[arg-type]
        status=status,
        evidence=[Evidence(quote=quote or f"we use {name}")],
        **kw,  # type: ignore[arg-type]
    )


def stack(*tools: Tool, usage: Usage | None = None, **kw: object) -> Stack:
    return Stack(
        source=SOURCE,
        tools=list(tools),
        provenance=Provenance(backend="llm", usage=usage or Usage(), duration_s=1.0),
        **kw,  # type: ignore[arg-type]
    )


def test_tools_deduplicated_case_insensitively_and_by_catalog_alias() -> None:
    merged = merge_stacks(
        [
            stack(tool("Postgres", quote="we run Postgres")),
            stack(tool("postgresql", quote="PostgreSQL holds the data"), tool("Redis")),
        ],
        catalog=Catalog.default(),
    )
    names = [t.name for t in merged.tools]
    assert names == ["Postgres", "Redis"]
    pg = merged.tools[0]
    assert [e.quote for e in pg.evidence] == ["we run Postgres", "PostgreSQL holds the data"]


def test_without_catalog_canonical_names_are_compared_casefolded() -> None:
    merged = merge_stacks([stack(tool("Kafka")), stack(tool("kafka", canonical="kafka"))])
    assert len(merged.tools) == 1


def test_duplicate_evidence_is_kept_once() -> None:
    merged = merge_stacks(
        [stack(tool("Go", quote="We write Go.")), stack(tool("Go", quote="we write go"))]
    )
    assert len(merged.tools[0].evidence) == 1


def test_specific_status_wins_over_default_uses() -> None:
    merged = merge_stacks(
        [stack(tool("MySQL", Status.uses)), stack(tool("MySQL", Status.used_previously))]
    )
    assert merged.tools[0].status == Status.used_previously
    merged = merge_stacks(
        [stack(tool("MySQL", Status.used_previously)), stack(tool("MySQL", Status.uses))]
    )
    assert merged.tools[0].status == Status.used_previously


def test_latest_specific_status_wins() -> None:
    merged = merge_stacks(
        [stack(tool("Snowflake", Status.evaluated)), stack(tool("Snowflake", Status.planned))]
    )
    assert merged.tools[0].status == Status.planned


def test_migrations_decide_status() -> None:
    m = Migration(from_tool="MySQL", to_tool="PostgreSQL", evidence=[Evidence(quote="moved")])
    merged = merge_stacks(
        [
            stack(tool("MySQL"), tool("PostgreSQL", Status.evaluated)),
            stack(migrations=[m]),
        ]
    )
    assert merged.tool("MySQL").status == Status.used_previously  # type: ignore[union-attr]
    assert merged.tool("PostgreSQL").status == Status.uses  # type: ignore[union-attr]


def test_reconcile_status_rule() -> None:
    assert reconcile_status([], migrated_to=False, migrated_from=False) == Status.uses
    assert (
        reconcile_status([Status.uses, Status.evaluated, Status.uses], migrated_to=False,
                         migrated_from=False)
        == Status.evaluated
    )
    assert reconcile_status([Status.used_previously], migrated_to=True, migrated_from=True) == (
        Status.uses
    )


def test_reasons_regrets_migrations_unioned_and_deduplicated() -> None:
    r1 = Reason(tool="Koa", text="async support", evidence=[Evidence(quote="Koa has async")])
    r2 = Reason(tool="koa", text="async", evidence=[Evidence(quote="Koa has  async")])
    r3 = Reason(tool="Koa", text="small", evidence=[Evidence(quote="Koa is small")])
    g1 = Regret(tool="styled-jsx", text="nesting", evidence=[Evidence(quote="hard time")])
    g2 = Regret(tool="styled-jsx", text="nesting", would_instead="Emotion",
                evidence=[Evidence(quote="hard time")])
    m1 = Migration(from_tool="CSS Modules", to_tool="styled-jsx", reasons=["one file"],
                   evidence=[Evidence(quote="We started with CSS Modules")])
    m2 = Migration(from_tool="css modules", to_tool="Styled-JSX", reasons=["moving files"],
                   evidence=[Evidence(quote="move the associated CSS file")])
    merged = merge_stacks(
        [
            stack(reasons=[r1], regrets=[g1], migrations=[m1]),
            stack(reasons=[r2, r3], regrets=[g2], migrations=[m2]),
        ]
    )
    assert [r.text for r in merged.reasons] == ["async support", "small"]
    assert len(merged.regrets) == 1 and merged.regrets[0].would_instead == "Emotion"
    assert len(merged.migrations) == 1
    assert merged.migrations[0].reasons == ["one file", "moving files"]
    assert len(merged.migrations[0].evidence) == 2


def test_usage_summed_and_company_by_majority() -> None:
    u = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, requests=1, attempts=2)
    merged = merge_stacks(
        [
            stack(usage=u, company="Luma"),
            stack(usage=u, company="Luma"),
            stack(usage=u, company="Vercel"),
        ]
    )
    assert merged.company == "Luma"
    assert merged.provenance.usage.total_tokens == 45
    assert merged.provenance.usage.attempts == 6
    assert merged.provenance.chunks == 3


def test_category_other_is_replaced_by_a_known_one() -> None:
    merged = merge_stacks(
        [
            stack(tool("Kafka", category=Category.other)),
            stack(tool("Kafka", category=Category.queue)),
        ]
    )
    assert merged.tools[0].category == Category.queue
