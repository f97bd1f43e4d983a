"""One document's review: its text with every evidence span as a <mark>, and the item lists.

Each grounded evidence span of each item becomes one highlight, `<mark id="m-N"
data-kind=tool|reason|regret|migration data-status=... data-item="tool-3">`, linked to its
list item (click, or the item's "quote" links back). Spans that cross are split into pieces
sharing `data-span`; the first piece carries the id. Items whose quotes were not found in the
text are listed apart, with the number of items the pipeline dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stackextract.models import Evidence, Stack
from stackextract.review._html import KIND_COLOURS, STATUS_COLOURS, attr, esc, legend, link, page

LOW_CONFIDENCE = 0.65  # below this an item is drawn faded (the default filter keeps >= 0.5)
_QUOTE_CHARS = 160


@dataclass
class _Span:
    start: int
    end: int
    mark_id: str
    item_id: str
    kind: str
    status: str
    confidence: float
    label: str


@dataclass
class _Item:
    item_id: str
    kind: str
    status: str
    confidence: float
    title: str
    detail: str
    evidence: list[Evidence]
    marks: list[tuple[str, Evidence]]  # (mark id, evidence) of the grounded spans
    missing: list[Evidence]  # quotes not found in the text


def _items(stack: Stack) -> list[_Item]:
    status_of: dict[str, str] = {}
    for t in stack.tools:
        status_of.setdefault(t.name.casefold(), t.status.value)
        status_of.setdefault(t.canonical.casefold(), t.status.value)
    out: list[_Item] = []
    for i, t in enumerate(stack.tools):
        name = t.canonical if t.canonical == t.name else f"{t.canonical} (“{t.name}”)"
        detail = t.category.value + ("" if t.in_catalog else ", not in catalog")
        if t.purpose:
            detail += f" · {t.purpose}"
        out.append(_Item(f"tool-{i}", "tool", t.status.value, t.confidence, name, detail,
                         t.evidence, [], []))
    for i, r in enumerate(stack.reasons):
        out.append(_Item(f"reason-{i}", "reason", status_of.get(r.tool.casefold(), ""),
                         r.confidence, r.tool, r.text, r.evidence, [], []))
    for i, g in enumerate(stack.regrets):
        detail = g.text + (f" · instead: {g.would_instead}" if g.would_instead else "")
        out.append(_Item(f"regret-{i}", "regret", status_of.get(g.tool.casefold(), ""),
                         g.confidence, g.tool, detail, g.evidence, [], []))
    for i, m in enumerate(stack.migrations):
        detail = "; ".join(m.reasons)
        out.append(_Item(f"migration-{i}", "migration",
                         status_of.get(m.from_tool.casefold(), ""), m.confidence,
                         f"{m.from_tool} → {m.to_tool}", detail, m.evidence, [], []))
    return out


def _locate(items: list[_Item], text: str | None, prefix: str) -> list[_Span]:
    """Give every grounded, in-range evidence a mark id; the rest are 'missing'."""
    spans: list[_Span] = []
    n = 0
    for item in items:
        for ev in item.evidence:
            if text is None and ev.grounded:  # no text: the quote alone stands for the span
                item.marks.append((f"{prefix}m-{n}", ev))
                n += 1
                continue
            ok = (text is not None and ev.grounded and ev.start is not None
                  and ev.end is not None and 0 <= ev.start < ev.end <= len(text))
            if not ok:
                item.missing.append(ev)
                continue
            mark_id = f"{prefix}m-{n}"
            n += 1
            item.marks.append((mark_id, ev))
            spans.append(_Span(int(ev.start or 0), int(ev.end or 0), mark_id,
                               prefix + item.item_id, item.kind, item.status, item.confidence,
                               f"{item.kind}: {item.title}"))
    return spans


def _close_tag(span: _Span) -> str:
    return "</b>" if span.kind == "name" else "</mark>"


def _names(stack: Stack, items: list[_Item], text: str) -> list[_Span]:
    """Where each tool's name (as written, or canonical) sits inside its own quotes: drawn
    bold so the eye finds the tool in a highlighted sentence."""
    spans: dict[tuple[int, int], _Span] = {}
    for tool, item in zip(stack.tools, items, strict=False):
        words = sorted({w.strip() for w in (tool.name, tool.canonical) if w.strip()}, key=len)
        if not words:
            continue
        # whole words only ("C" is not every c), the longer spelling first
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in reversed(words))
                             + r")(?!\w)", re.IGNORECASE)
        for _, ev in item.marks:
            start, end = int(ev.start or 0), int(ev.end or 0)
            for found in pattern.finditer(text, start, end):
                key = (found.start(), found.end())
                spans.setdefault(key, _Span(*key, "", "", "name", "", 1.0, ""))
    return list(spans.values())


def _open_tag(span: _Span, first: bool) -> str:
    if span.kind == "name":
        return '<b class="name">'
    colour = STATUS_COLOURS.get(span.status, "#555") if span.kind == "tool" else (
        KIND_COLOURS[span.kind])
    cls = ' class="low"' if span.confidence < LOW_CONFIDENCE else ""
    ident = f" id={attr(span.mark_id)}" if first else ""
    title = f"{span.label} · {span.status or '-'} · confidence {span.confidence:.2f}"
    return (f"<mark{ident}{cls} data-span={attr(span.mark_id)} data-kind={attr(span.kind)} "
            f"data-status={attr(span.status)} data-item={attr(span.item_id)} "
            f"data-confidence=\"{span.confidence:.2f}\" title={attr(title)} "
            f"style=\"--c:{colour}\">")


def highlight(text: str, spans: list[_Span]) -> str:
    """The escaped text with nested <mark>s; a span crossing another's end is split."""
    if not spans:
        return esc(text)
    starts: dict[int, list[_Span]] = {}
    ends: set[int] = set()
    for s in spans:
        starts.setdefault(s.start, []).append(s)
        ends.add(s.end)
    for group in starts.values():
        # the longest opens first, so shorter ones nest; a name's <b> goes innermost
        group.sort(key=lambda s: (s.kind == "name", -s.end))
    bounds = sorted(set(starts) | ends)
    out: list[str] = []
    stack: list[_Span] = []
    opened: set[str] = set()
    pos = 0
    for p in bounds:
        out.append(esc(text[pos:p]))
        pos = p
        if any(s.end == p for s in stack):
            # close down to the deepest span that ends here, then reopen the survivors
            deepest = min(i for i, s in enumerate(stack) if s.end == p)
            reopen = [s for s in stack[deepest:] if s.end != p]
            out.append("".join(_close_tag(s) for s in reversed(stack[deepest:])))
            del stack[deepest:]
            for s in reopen:
                out.append(_open_tag(s, False))
                stack.append(s)
        for s in starts.get(p, []):
            out.append(_open_tag(s, s.mark_id not in opened))
            opened.add(s.mark_id)
            stack.append(s)
    out.append("".join(_close_tag(s) for s in reversed(stack)))
    out.append(esc(text[pos:]))
    return "".join(out)


def _quote(ev: Evidence) -> str:
    q = " ".join(ev.quote.split())
    return esc(q if len(q) <= _QUOTE_CHARS else q[: _QUOTE_CHARS - 1] + "…")


def _item_li(item: _Item, prefix: str) -> str:
    colour = STATUS_COLOURS.get(item.status, "#555") if item.kind == "tool" else (
        KIND_COLOURS[item.kind])
    cls = ' class="low"' if item.confidence < LOW_CONFIDENCE else ""
    badge = item.status.replace("_", " ") if item.kind == "tool" else item.kind
    parts = [f"<li id={attr(prefix + item.item_id)}{cls} data-kind={attr(item.kind)} "
             f"data-status={attr(item.status)}>",
             f'<span class="badge" style="--c:{colour}">{esc(badge)}</span> ',
             f"<b>{esc(item.title)}</b> ",
             f'<span class="conf" title="confidence">{item.confidence:.2f}</span>']
    if item.detail:
        parts.append(f" — {esc(item.detail)}")
    for k, (mark_id, ev) in enumerate(item.marks, 1):
        parts.append(f'<br><a class="quote" href={attr("#" + mark_id)}>quote {k}</a> '
                     f'<span class="quote">{_quote(ev)}</span>')
    for ev in item.missing:
        parts.append(f'<br><span class="quote">not found in the text: {_quote(ev)}</span>')
    parts.append("</li>")
    return "".join(parts)


_HEADINGS = {"tool": "Tools", "reason": "Reasons", "regret": "Regrets",
             "migration": "Migrations"}


def _lists(items: list[_Item], stack: Stack, prefix: str) -> str:
    found = [i for i in items if i.marks]
    apart = [i for i in items if not i.marks]
    out: list[str] = []
    for kind, heading in _HEADINGS.items():
        group = [i for i in found if i.kind == kind]
        out.append(f"<h2>{heading} ({len(group)})</h2>")
        if group:
            out.append("<ol>" + "".join(_item_li(i, prefix) for i in group) + "</ol>")
    dropped = stack.provenance.dropped_items
    out.append('<section class="apart" id=' + attr(prefix + "ungrounded") + ">")
    out.append(f"<h2>Not found in the text ({len(apart)})</h2>")
    if apart:
        out.append("<ol>" + "".join(_item_li(i, prefix) for i in apart) + "</ol>")
    note = f"{dropped} item(s) dropped by the pipeline because their quote was not found."
    out.append(f'<p class="conf">{esc(note)}</p></section>')
    return "".join(out)


def _meta(stack: Stack) -> str:
    src, prov = stack.source, stack.provenance
    bits: list[str] = []
    url = src.final_url or src.url
    if url:
        bits.append(link(url))
    elif src.path:
        bits.append(esc(src.path))
    for label, value in (("company", stack.company), ("author", src.author),
                         ("published", src.published), ("site", src.site_name)):
        if value:
            bits.append(f"{label}: {esc(value)}")
    model = f" / {prov.model}" if prov.model else ""
    bits.append(f"extracted by {esc(prov.backend + model)} at {esc(prov.created_at[:19])}")
    return '<div class="meta">' + " · ".join(bits) + "</div>"


def stack_title(stack: Stack) -> str:
    src = stack.source
    return src.title or src.final_url or src.url or src.path or "untitled document"


def fragment(stack: Stack, text: str | None, *, prefix: str = "",
             nav: str = "") -> str:
    """The review of one document as an HTML fragment (for a page or a notebook cell).

    Without `text` (a Stack does not carry its document), each quote is shown and marked on
    its own in the lists; with it, the marks sit in the full text.
    """
    items = _items(stack)
    spans = _locate(items, text, prefix)
    head = (f'<header class="top">{nav}<h1>{esc(stack_title(stack))}</h1>{_meta(stack)}'
            f"{legend()}</header>")
    if text is None:
        body = _quotes_only(items, prefix)
        return f"{head}<main class=\"review\"><div>{body}</div><aside class=\"items\">" \
               f"{_lists(items, stack, prefix)}</aside></main>"
    return (f'{head}<main class="review"><div class="text" id={attr(prefix + "text")}>'
            f"{highlight(text, spans + _names(stack, items, text))}</div><aside class=\"items\">"
            f"{_lists(items, stack, prefix)}</aside></main>")


def _quotes_only(items: list[_Item], prefix: str) -> str:
    """No document text: every quote alone, wholly marked (offsets would point nowhere)."""
    rows: list[str] = ['<p class="conf">The document text is not attached to this Stack; '
                       "each quote is shown on its own. Pass the text (Stack.attach_text or "
                       "review.render_stack(stack, text=...)) to see it in place.</p>"]
    for item in items:
        for mark_id, ev in item.marks:
            span = _Span(0, len(ev.quote), mark_id, prefix + item.item_id, item.kind,
                         item.status, item.confidence, f"{item.kind}: {item.title}")
            rows.append(f'<p class="text">{highlight(ev.quote, [span])}</p>')
    return "".join(rows)


def render_stack(stack: Stack, text: str | None = None, *, nav: str = "") -> str:
    """A whole self-contained HTML page reviewing one Stack (and its text when given)."""
    return page(f"Review: {stack_title(stack)}", fragment(stack, text, nav=nav))


def counts(stack: Stack) -> dict[str, Any]:
    """Numbers shown in an index row."""
    grounded = sum(1 for t in stack.tools if t.grounded)
    return {"tools": len(stack.tools), "grounded": grounded, "reasons": len(stack.reasons),
            "regrets": len(stack.regrets), "migrations": len(stack.migrations)}
