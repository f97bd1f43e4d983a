"""Names that are not in the catalog but that the text treats as products.

They are proposed with a lower confidence rather than ignored: a capitalised name right after
"we use", "switched to", "built on" and the like, or a short item in a list whose siblings
are catalog tools.
"""

from __future__ import annotations

import re

from stackextract.catalog.vocabulary import Catalog, CatalogEntry, Mention
from stackextract.models import Category
from stackextract.offline.sentences import Sentence

_WORD = r"[A-Z][A-Za-z0-9]*(?:[.+#-][A-Za-z0-9]+)*"
_NAME = rf"({_WORD}(?:\s{_WORD}){{0,2}})"
_CUE = re.compile(
    r"\b(?:we(?:'re| are)? (?:now |also |still )?(?:use|using|chose|picked|adopted|rely on|run|"
    r"deploy(?:ed)? on|host(?:ed)? on|went with|settled on)|switched to|moved to|migrated to|"
    r"built (?:on|with)|powered by)\s+" + _NAME
)
_STOP = {
    "The", "A", "An", "Our", "We", "It", "This", "That", "These", "Those", "Some", "All", "Any",
    "Each", "Every", "One", "Two", "Three", "I", "In", "On", "At", "For", "With", "And", "Or",
    "But", "So", "If", "When", "Then", "Now", "Today", "Monday", "Tuesday", "Wednesday",
    "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April", "May",
    "June", "July", "August", "September", "October", "November", "December", "English",
    "API", "APIs", "SDK", "UI", "CLI", "SQL", "HTTP", "HTTPS", "JSON", "YAML", "CSV", "HTML",
    "CSS", "REST", "URL", "DNS", "TLS", "SSL", "CPU", "GPU", "RAM", "SSD", "OS", "AI", "ML",
    "LLM", "LLMs", "MVP", "SaaS", "PaaS", "IaaS", "B2B", "B2C", "CEO", "CTO", "VP", "Q1", "Q2",
    "Q3", "Q4", "Yes", "No", "OK", "Also", "Here", "There", "What", "Why", "How", "Who",
}


def _entry(name: str) -> CatalogEntry:
    return CatalogEntry(name=name, category=Category.other, known=False, case_sensitive=True)


def _clean(name: str) -> str | None:
    words = name.split()
    while words and words[-1] in _STOP:
        words.pop()
    if not words or words[0] in _STOP:
        return None
    name = " ".join(words)
    if len(name) < 2 or name.isdigit():
        return None
    return name


def propose_unknown(view: str, sentences: list[Sentence], catalog: Catalog) -> list[Mention]:
    """Mentions of product-like names that the catalog does not know."""
    proposals: list[Mention] = []
    for match in _CUE.finditer(view):
        name = _clean(match.group(1))
        if name and catalog.lookup(name) is None:
            start = match.start(1)
            proposals.append(Mention(start, start + len(name), name, _entry(name)))
    # short list items whose siblings are catalog tools
    by_block: dict[int, list[Sentence]] = {}
    for s in sentences:
        if s.kind in ("item", "fragment"):
            by_block.setdefault(s.block, []).append(s)
    for items in by_block.values():
        texts = [view[s.start : s.end].strip(" \t-*•+,") for s in items]
        known = sum(1 for t in texts if t and catalog.lookup(t) is not None)
        if len(texts) < 3 or known < max(2, len(texts) // 2):
            continue
        for s, t in zip(items, texts, strict=True):
            if catalog.lookup(t) is None and re.fullmatch(_NAME, t) and _clean(t) == t:
                start = view.find(t, s.start)
                proposals.append(Mention(start, start + len(t), t, _entry(t)))
    return proposals
