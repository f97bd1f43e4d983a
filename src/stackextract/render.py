"""Human-readable output for the terminal (rich tables)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from .models import Stack

if TYPE_CHECKING:
    from .evaluate import Report


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_stack(stack: Stack, console: Console | None = None) -> None:
    """The stack as a few tables: tools, migrations, regrets, reasons."""
    console = console or Console()
    src = stack.source
    title = src.title or src.final_url or src.url or src.path or "document"
    console.print(f"[bold]{title}[/bold]" + (f" — {stack.company}" if stack.company else ""))
    meta = [f"backend {stack.provenance.backend}"]
    if stack.provenance.model:
        meta.append(f"model {stack.provenance.model}")
    if src.author:
        meta.append(f"by {src.author}")
    if src.published:
        meta.append(src.published)
    if stack.provenance.dropped_items:
        meta.append(f"{stack.provenance.dropped_items} ungrounded items dropped")
    console.print(", ".join(meta), style="dim")

    tools = Table(title=f"Tools ({len(stack.tools)})", show_lines=False)
    for column in ("tool", "category", "status", "conf", "evidence"):
        tools.add_column(column)
    order = {"uses": 0, "planned": 1, "evaluated": 2, "used_previously": 3}
    for t in sorted(stack.tools, key=lambda t: (order[t.status.value], t.category.value,
                                                t.canonical.lower())):
        quote = t.evidence[0].quote if t.evidence else ""
        tools.add_row(t.canonical, t.category.value, t.status.value, f"{t.confidence:.2f}",
                      _short(quote, 70))
    console.print(tools)
    if stack.migrations:
        table = Table(title=f"Migrations ({len(stack.migrations)})")
        for column in ("from", "to", "evidence"):
            table.add_column(column)
        for m in stack.migrations:
            table.add_row(m.from_tool, m.to_tool, _short(m.evidence[0].quote if m.evidence else ""))
        console.print(table)
    if stack.regrets:
        table = Table(title=f"Regrets ({len(stack.regrets)})")
        for column in ("tool", "regret", "instead"):
            table.add_column(column)
        for r in stack.regrets:
            table.add_row(r.tool, _short(r.text), r.would_instead or "")
        console.print(table)
    if stack.reasons:
        table = Table(title=f"Reasons ({len(stack.reasons)})")
        for column in ("tool", "reason"):
            table.add_column(column)
        for r in stack.reasons:
            table.add_row(r.tool, _short(r.text))
        console.print(table)


def print_report(report: Report, *, verbose: bool = False, console: Console | None = None) -> None:
    """Per-file and micro-averaged scores."""
    console = console or Console()
    kinds = ("tools", "reasons", "regrets", "migrations")
    table = Table(title=f"Evaluation — backend {report.backend}")
    table.add_column("file")
    for kind in kinds:
        table.add_column(f"{kind} P/R/F1")
    table.add_column("status acc")
    for f in report.files:
        acc = f"{f.status_correct / f.status_total:.2f}" if f.status_total else "-"
        row = [f.file] + [
            "error" if f.error else
            f"{getattr(f, k).precision:.2f}/{getattr(f, k).recall:.2f}/{getattr(f, k).f1:.2f}"
            for k in kinds
        ] + [acc]
        table.add_row(*row)
    totals = [report.total(k) for k in kinds]
    table.add_row("[bold]micro[/bold]",
                  *[f"[bold]{c.precision:.3f}/{c.recall:.3f}/{c.f1:.3f}[/bold]" for c in totals],
                  f"[bold]{report.status_accuracy:.3f}[/bold]")
    console.print(table)
    for f in report.files:
        if f.error:
            console.print(f"[red]{f.file}: {f.error}[/red]")
        if verbose:
            console.print(f"[bold]{f.file}[/bold]")
            console.print(f"  false positives: {', '.join(f.false_positives) or '-'}")
            console.print(f"  missed: {', '.join(f.false_negatives) or '-'}")
            console.print(f"  status errors: {'; '.join(f.status_errors) or '-'}")
