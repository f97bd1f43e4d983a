"""Escaping, safe links and the shared page shell (inline CSS, a little JS, a strict CSP).

Everything that comes from a page (text, titles, names, quotes, URLs) passes through `esc`
or `attr`; links are emitted only for http(s) URLs. The Content-Security-Policy allows our
one inline script (by hash) and inline styles, nothing else: a second line of defence should
escaping ever miss something.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from urllib.parse import urlsplit

_SLUG_RE = re.compile(r"[^a-z0-9]+")

STATUS_COLOURS = {
    "uses": "#2e7d32",
    "used_previously": "#8d6e63",
    "evaluated": "#1565c0",
    "planned": "#6a1b9a",
}
KIND_COLOURS = {"reason": "#00897b", "regret": "#c62828", "migration": "#ef6c00"}

CSS = """
:root{--fg:#1b1b1b;--muted:#666;--line:#ddd;font:15px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;color:var(--fg)}
body{margin:0}
header.top{padding:.6rem 1.2rem;border-bottom:1px solid var(--line);background:#fafafa}
header.top h1{font-size:1.25rem;margin:.1rem 0}
header.top .meta{color:var(--muted);font-size:.85rem}
nav.pager{font-size:.85rem}
nav.pager a{margin-right:.8rem}
main.review{display:grid;grid-template-columns:minmax(0,3fr) minmax(18rem,2fr);gap:1.2rem;
padding:1rem 1.2rem}
main.index{padding:1rem 1.2rem;max-width:80rem}
@media (max-width:900px){main.review{grid-template-columns:1fr}
aside.items{position:static;max-height:none}}
.text{white-space:pre-wrap;font:15px/1.65 Georgia,"DejaVu Serif",serif;
border:1px solid var(--line);padding:.8rem;border-radius:4px;overflow-wrap:anywhere}
aside.items{font-size:.9rem;position:sticky;top:0;max-height:100vh;overflow:auto;
align-self:start}
aside.items h2,main.index h2{font-size:1.05rem;margin:1rem 0 .3rem}
aside.items ol{padding-left:1.3rem;margin:.2rem 0}
aside.items li{margin:.25rem 0}
li:target,mark:target{outline:2px solid #ffab00;outline-offset:1px}
mark{background:color-mix(in srgb,var(--c,#2e7d32) 15%,transparent);color:inherit;
border-bottom:2px solid var(--c,#2e7d32);padding:0 1px;cursor:pointer}
mark[data-kind=regret],mark[data-kind=migration]{border-bottom-width:3px}
b.name{font-weight:650}
mark.low,li.low{opacity:.55}
mark.low{border-bottom-style:dashed}
.badge{display:inline-block;font-size:.72rem;padding:0 .35rem;border-radius:3px;color:#fff;
background:var(--c,#555);vertical-align:1px}
.conf{font-size:.75rem;color:var(--muted)}
.quote{color:var(--muted);font-size:.82rem}
.legend span{margin-right:.7rem;font-size:.8rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;
vertical-align:-1px;margin-right:.25rem;background:var(--c)}
table{border-collapse:collapse;font-size:.88rem;margin:.3rem 0}
th,td{border-bottom:1px solid var(--line);padding:.2rem .5rem;text-align:left;
vertical-align:top}
th{background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.cols{display:flex;flex-wrap:wrap;gap:2rem}
svg.graph a:hover rect,svg.graph a:hover path{opacity:.75}
svg.graph text{font:12px system-ui,sans-serif}
.lazy{content-visibility:auto;contain-intrinsic-size:auto 2000px}
.apart{border-left:3px solid #c62828;padding-left:.6rem}
"""

# Clicking a highlight jumps to its list item; list items already link to their highlights.
JS = """document.addEventListener("click",function(e){var m=e.target.closest("mark[data-item]");
if(m){location.hash=m.getAttribute("data-item");}});"""


def esc(value: object) -> str:
    """Text content: every <, >, & and quote escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def attr(value: object) -> str:
    """A double-quoted attribute value."""
    return '"' + esc(value) + '"'


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s) with a host, else None (no javascript:, data:, file: ...)."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ch in url for ch in "\x00\r\n\t"):
        return None
    return url


def link(url: str | None, label: object | None = None) -> str:
    """An <a> to an http(s) URL, or the label as text when the URL is anything else."""
    ok = safe_url(url)
    text = esc(label if label is not None else (url or ""))
    if ok is None:
        return text
    return f"<a href={attr(ok)} rel=\"noopener noreferrer nofollow\">{text}</a>"


def slug(value: str) -> str:
    """An id-safe slug (ids are built from it; the value itself is never trusted)."""
    return _SLUG_RE.sub("-", value.casefold()).strip("-") or "x"


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def page(title: str, body: str, *, script: bool = True) -> str:
    """A whole self-contained HTML page; `body` is already-escaped HTML."""
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    csp += "form-action 'none'; "
    csp += f"script-src '{_script_hash(JS)}'" if script else "script-src 'none'"
    js = f"<script>{JS}</script>" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content={attr(csp)}>"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>{body}{js}</body></html>\n"
    )


def legend() -> str:
    parts = [f'<span style="--c:{c}"><i></i>tool: {esc(s)}</span>'
             for s, c in STATUS_COLOURS.items()]
    parts += [f'<span style="--c:{c}"><i></i>{esc(k)}</span>' for k, c in KIND_COLOURS.items()]
    return '<div class="legend">' + "".join(parts) + "</div>"
