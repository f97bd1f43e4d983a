"""Human-readable output for the terminal (rich tables)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from stackextract.models import Stack

if TYPE_CHECKING:
    from rich.console import Console

    from stackextract.evaluation.score import Report


def _clip(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(text: str, width: int = 90) -> str:
    """One line of page-derived text, cut to `width`, with rich markup escaped: a page saying
    `[/]` or `[link=...]` is shown as written, never interpreted."""
    return _text(_clip(text, width))


def _text(value: object) -> str:
    """Any value from a page or a model, safe to print through rich."""
    from rich.markup import escape

    return escape(str(value))


def _plain_sections(stack: Stack) -> list[tuple[str, list[str], list[list[str]]]]:
    order = {"uses": 0, "planned": 1, "evaluated": 2, "used_previously": 3}
    tools = sorted(stack.tools, key=lambda t: (order[t.status.value], t.category.value,
                                               t.canonical.lower()))
    return [
        ("Tools", ["tool", "category", "status", "conf", "evidence"],
         [[t.canonical, t.category.value, t.status.value, f"{t.confidence:.2f}",
           _clip(t.evidence[0].quote if t.evidence else "", 70)] for t in tools]),
        ("Migrations", ["from", "to", "evidence"],
         [[m.from_tool, m.to_tool, _clip(m.evidence[0].quote if m.evidence else "")]
          for m in stack.migrations]),
        ("Regrets", ["tool", "regret", "instead"],
         [[r.tool, _clip(r.text), r.would_instead or ""] for r in stack.regrets]),
        ("Reasons", ["tool", "reason"], [[r.tool, _clip(r.text)] for r in stack.reasons]),
    ]


def _header(stack: Stack) -> tuple[str, str | None, list[str]]:
    """Title, company and the line under them (backend, model, relevance, author, date)."""
    src = stack.source
    title = src.title or src.final_url or src.url or src.path or "document"
    meta = [f"backend {stack.provenance.backend}"]
    if stack.provenance.model:
        meta.append(f"model {stack.provenance.model}")
    if stack.relevance is not None:
        meta.append(f"relevance {stack.relevance:.2f}")
    if src.author:
        meta.append(f"by {src.author}")
    if src.published:
        meta.append(src.published)
    if stack.provenance.dropped_items:
        meta.append(f"{stack.provenance.dropped_items} ungrounded items dropped")
    return title, stack.company, meta


def print_plain(stack: Stack, out: Any = None) -> None:
    """The same tables as plain aligned text: for pipes and files (and a lighter start-up:
    rich costs about a fifth of a one-shot extract's CPU)."""
    out = out or sys.stdout
    title, company, meta = _header(stack)
    lines = [title + (f" — {company}" if company else ""), ", ".join(meta)]
    for name, columns, rows in _plain_sections(stack):
        if not rows and name != "Tools":
            continue
        widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
        lines += ["", f"{name} ({len(rows)})"]
        for row in [columns, *rows]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    out.write("\n".join(lines) + "\n")


def print_stack(stack: Stack, console: Console | None = None) -> None:
    """The stack as a few tables: tools, migrations, regrets, reasons (rich on a terminal,
    plain text when the output is piped)."""
    if console is None and not sys.stdout.isatty():
        print_plain(stack)
        return
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    title, company, meta = _header(stack)
    console.print(f"[bold]{_text(title)}[/bold]" + (f" — {_text(company)}" if company else ""))
    console.print(", ".join(_text(m) for m in meta), style="dim")

    tools = Table(title=f"Tools ({len(stack.tools)})", show_lines=False)
    # on a narrow terminal (80 columns) the evidence column gives way (cut with an
    # ellipsis) and the short columns wrap, so that the border always fits
    tools.add_column("tool", min_width=8, overflow="fold")
    tools.add_column("category", min_width=8, overflow="fold")
    tools.add_column("status", min_width=7, overflow="fold")
    tools.add_column("conf", min_width=4, no_wrap=True)
    # the widest the evidence can be for the table to fit: the other columns and the borders
    # take about 48 characters
    room = max(12, min(60, console.width - 48))
    tools.add_column("evidence", max_width=room, no_wrap=True, overflow="ellipsis")
    order = {"uses": 0, "planned": 1, "evaluated": 2, "used_previously": 3}
    for t in sorted(stack.tools, key=lambda t: (order[t.status.value], t.category.value,
                                                t.canonical.lower())):
        quote = t.evidence[0].quote if t.evidence else ""
        tools.add_row(_text(t.canonical), t.category.value, t.status.value,
                      f"{t.confidence:.2f}", _short(quote, room))
    console.print(tools)
    if stack.migrations:
        table = Table(title=f"Migrations ({len(stack.migrations)})")
        for column in ("from", "to", "evidence"):
            table.add_column(column, overflow="fold")
        for m in stack.migrations:
            table.add_row(_text(m.from_tool), _text(m.to_tool),
                          _short(m.evidence[0].quote if m.evidence else ""))
        console.print(table)
    if stack.regrets:
        table = Table(title=f"Regrets ({len(stack.regrets)})")
        for column in ("tool", "regret", "instead"):
            table.add_column(column, overflow="fold")
        for r in stack.regrets:
            table.add_row(_text(r.tool), _short(r.text), _text(r.would_instead or ""))
        console.print(table)
    if stack.reasons:
        table = Table(title=f"Reasons ({len(stack.reasons)})")
        for column in ("tool", "reason"):
            table.add_column(column, overflow="fold")
        for reason in stack.reasons:
            table.add_row(_text(reason.tool), _short(reason.text))
        console.print(table)


def print_report(report: Report, *, verbose: bool = False, console: Console | None = None) -> None:
    """Per-file and micro-averaged scores as a plain table (fits 100 columns, pipes cleanly)."""
    from rich.console import Console

    console = console or Console(soft_wrap=True)
    kinds = ("tools", "reasons", "regrets", "migrations")
    header = f"{'file':34} " + " ".join(f"{k + ' P/R/F1':>17}" for k in kinds) + f" {'status':>6}"
    lines = [f"backend: {report.backend}", header, "-" * len(header)]

    def cell(c: object) -> str:
        return f"{c.precision:.2f}/{c.recall:.2f}/{c.f1:.2f}"  # type: ignore[attr-defined]

    for f in report.files:
        acc = f"{f.status_correct / f.status_total:.2f}" if f.status_total else "-"
        cells = ["error" if f.error else cell(getattr(f, k)) for k in kinds]
        lines.append(f"{f.file[:34]:34} " + " ".join(f"{c:>17}" for c in cells) + f" {acc:>6}")
    lines.append("-" * len(header))
    totals = [report.total(k) for k in kinds]
    lines.append(f"{'micro':34} " + " ".join(f"{cell(c):>17}" for c in totals)
                 + f" {report.status_accuracy:>6.3f}")
    lines.append("micro F1: " + ", ".join(f"{k} {c.f1:.3f}" for k, c in zip(kinds, totals,
                                                                            strict=True))
                 + f"; tools precision {totals[0].precision:.3f}; "
                 f"status accuracy {report.status_accuracy:.3f}")
    for f in report.files:
        if f.error:
            lines.append(f"{f.file}: {f.error}")
        if verbose:
            lines.append(f"{f.file}")
            lines.append(f"  false positives: {', '.join(f.false_positives) or '-'}")
            lines.append(f"  missed: {', '.join(f.false_negatives) or '-'}")
            lines.append(f"  status errors: {'; '.join(f.status_errors) or '-'}")
    console.print("\n".join(lines), markup=False, highlight=False)
