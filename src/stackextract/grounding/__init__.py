"""Grounding: every item must point at text that exists.

Takes: a `Document` and an ungrounded `Stack`. Gives: the `Stack` with character spans on
every quote (exact, normalised, then fuzzy match), tools the text never names dropped,
ungrounded items flagged or dropped (`strict`), and sentences that address a model
(prompt injection) masked (injection).
"""

from __future__ import annotations

from stackextract.grounding.injection import Injection, find_injections
from stackextract.grounding.locate import Grounder, ground_stack, locate

__all__ = ["Grounder", "Injection", "find_injections", "ground_stack", "locate"]
