"""Cue phrases that tell status, reasons, regrets and migrations from a sentence.

Patterns run on a *skeleton* of the sentence: lower-cased, with every tool mention replaced
by a marker `<k>` (k = the mention's index in the sentence). Keeping the lexicon here keeps
the extractor's control flow readable and the phrases easy to review.
"""

from __future__ import annotations

import re
from functools import lru_cache

T = r"<(\d+)>"  # a tool marker, capturing its index
GAP = r"(?:[^<.;:!?]{0,40}?)"  # a short stretch of words between cue and tool
SEP = r"(?:\s*(?:,|and|or|&|\+|/)\s*)"

# -- status ------------------------------------------------------------------------------
PREVIOUS = [
    rf"(?:migrat|mov|switch|transition|port|convert|went|shift|chang|offload|upgrad)\w*\s+{GAP}(?:away\s+)?from\s+(?:the\s+|our\s+|using\s+)?{T}",
    rf"(?:ripped out|got rid of|dropped|removed|abandon\w*|retired|deprecated|sunset\w*|phased out|replaced|replacing|ditched|killed off|turned off|shut down|stopped using|no longer use\w*|moved off|moved away from|outgrew|left)\s+(?:the\s+|our\s+|all\s+)?(?:\w+\s+)?{T}",
    rf"{T}{GAP}\b(?:was|were|got|has been|have been|had been|is being)\s+(?:\w+\s+)?(?:replaced|removed|retired|deprecated|dropped|phased out|ripped out|sunset|abandoned)",
    rf"\b(?:used to|had been using|previously used|formerly used|originally used|initially used|were using|started with|started out with|began with)\s+(?:\w+\s+){{0,2}}{T}",
    rf"\b(?:we|i)\s+(?:used|had|ran|tried|chose|picked|went with)\s+{T}{GAP}\b(?:at first|initially|originally|in the beginning|early on|before|until)",
    rf"{T}{GAP}\b(?:at first|initially|originally|in the beginning|back then)\b",
    rf"\bin the {T} era\b",
    rf"\((?:replac\w*|formerly|previously|was)\s+(?:the\s+|our\s+)?(?:\w+\s+)?{T}",
]
EVALUATED = [
    rf"\b(?:tried|trying out|considered|evaluated|evaluating|looked at|looked into|experimented with|prototyped|compared|weighed|explored|investigated|benchmarked|played with|toyed with|assessed|tested out|piloted|trialled|trialed)\s+(?:\w+\s+){{0,3}}?{T}",
    rf"\b(?:briefly|also|even)\s+(?:considered|tried|evaluated|looked at)\s+(?:\w+\s+){{0,2}}?{T}",
    rf"\b(?:considered|evaluated|compared)\s+[^<.;!?]{{0,60}}?[-:\u2013]\s*{T}",
    rf"\b(?:instead of|rather than|as opposed to)\s+(?:something like\s+|using\s+|the\s+|a\s+)?(?:\w+\s+)?{T}",
    rf"\b(?:decided against|ruled out|rejected|passed on|avoided|intentionally avoided|opted against|chose not to use)\s+(?:\w+\s+){{0,2}}?{T}",
    rf"\bwhy not\s+{T}",
    rf"{T}{GAP}\b(?:turned (?:me|us) off|too (?:magical|heavy|complex|expensive|immature)|didn't make the cut|was ruled out|lost out)",
    rf"\b(?:too\s+\w+\s+for us to adopt|not ready to adopt)\b.{{0,20}}{T}|{T}.{{0,60}}\btoo\s+\w+(?:\s+and\s+\w+)?\s+for us to adopt",
]
PLANNED = [
    rf"\b(?:we|i|our team)\s*(?:'ll|will|'re going to|are going to|am going to|'m going to|plan to|are planning to|'re planning to|intend to|aim to|hope to|are hoping to|are about to|'re about to|were trying to|are trying to|'re trying to|are in the process of)\s+(?:\w+\s+){{0,4}}?{T}",
    rf"\b(?:we|i)(?:'re| are| were)\s+(?:moving|migrating|switching|transitioning)\s+(?:\w+\s+){{0,3}}?to\s+{T}",
    rf"{T}{GAP}\b(?:is|are)\s+(?:on our roadmap|next on our list|planned|coming soon)",
    rf"\b(?:roadmap|next quarter|next year|later this year)\b.{{0,60}}{T}",
]
USES = [
    rf"\b(?:we|our team|the team|i)\s+(?:now\s+|currently\s+|still\s+|also\s+|heavily\s+|mostly\s+|primarily\s+|mainly\s+)?(?:use|uses|rely on|run|runs|are using|are running|build on|built on|deploy on|deployed on|host on|chose|picked|settled on|went with|adopted|standardi[sz]ed on|love|like)\s+(?:\w+\s+){{0,2}}?{T}",
    rf"\b(?:switched|moved|migrated|transitioned|went|converted)\s+(?:\w+\s+){{0,4}}?to\s+(?:the\s+)?{T}",
    rf"\bin favou?r of\s+{T}",
    rf"\bnew development is using\s+(?:\w+\s+)?{T}",
    rf"\b(?:replaced|replacing)\s+.{{0,60}}?\bwith\s+(?:the\s+)?{T}",
    rf"\bwe(?:'re| are) (?:on|using|running)\s+{T}",
]
NOT_STACK = [
    rf"\b(?:compared (?:to|with)|unlike|similar to|alternatives? to|competitors? (?:of|to|like)|cousins? of|equivalent of|the likes of|inspired by)\s+(?:\w+\s+){{0,2}}?{T}",
    rf"\b(?:used by|trusted by|powering)\s+(?:\w+\s+){{0,2}}?{T}",
    r"\b(?:my|our|his|her|their)\s+(?:previous|former|last|old)\s+(?:company|employer|job|team|startup|gig)\b",
    r"\b(?:at|when i was at|back at)\s+(?:google|facebook|meta|netflix|uber|airbnb|amazon|microsoft|twitter|linkedin)\b",
    rf"\b(?:abstractions|frameworks|libraries|tools)\s+like\s+{T}",
    rf"\b(?:the maturity of|as mature as|maturity of)\s+{T}",
    rf"\b(?:hope rests on|excited about|keeping an eye on|watching)\s+{T}",
    rf"\b(?:services?|apis?|tools|abstractions?|frameworks?|librar(?:y|ies)|platforms?|providers?|vendors?|companies|products?|solutions?|engines?|databases?|warehouses?|lakes?)\s+(?:such as|like|\(?e\.g\.?,?)\s+(?:\w+\s+)?{T}",
    rf"\b(?:set of|lots of|plenty of|many|several|various|popular)\s+(?:\w+\s+)?(?:librar(?:y|ies)|tools|frameworks|options|choices)\b[^<.;]{{0,40}}:\s*{T}",
    rf"{T}\s+(?:is|are)\s+(?:commonly|widely|often|typically|usually|generally)\s+used\b",
    rf"\bintegrat\w*\s+(?:well\s+|nicely\s+|seamlessly\s+)?with\s+{T}",
    rf"\b(?:also\s+)?supports?\s+{T}",
    rf"\byour\s+{T}",
    r"\bthis (?:site|website|blog|page) uses\b",
    rf"{T}\s+(?:vs\.?|versus)\s+{T}",
    rf"\b(?:memes?|jokes?)\b[^<]{{0,30}}{T}",
]
ALTERNATIVES_HEADING = re.compile(
    r"^\W*(?:alternatives?|other (?:options|alternatives|tools)|competitors|similar (?:tools|products)"
    r"|also considered|what we (?:didn't|did not) (?:use|choose|pick))\b[^.!?]{0,40}:?\W*$",
    re.I,
)
USE_HEADING = re.compile(
    r"^\W*(?:what we use|we use|our (?:tools|stack|choice)|tools? we use|current(?:ly)?|stack)\b[^.!?]{0,30}:?\W*$",
    re.I,
)

# -- migrations --------------------------------------------------------------------------
MIGRATION_FROM_TO = re.compile(
    rf"(?:migrat|mov|switch|transition|port|convert|went|shift|chang|offload|upgrad|replac|rewr|go|went)\w*"
    rf"\b(?:[^<.;:!?]|<\d+>){{0,50}}?"
    rf"(?P<pair>\bfrom\s+(?:[\w'’-]+\s+){{0,4}}?{T}(?:{SEP}{T})*"
    rf"[^<.;!?]{{0,40}}?\b(?:to|into|onto|with|for)\s+(?:the\s+|a\s+|an\s+)?{T}(?:\s*\+\s*{T})?)"
)
MIGRATION_REPLACED_WITH = re.compile(
    rf"\breplac\w*\s+(?:the\s+|our\s+)?{T}[^<.;!?]{{0,40}}?\b(?:with|by)\s+(?:the\s+|a\s+)?{T}"
)
MIGRATION_REPLACED_BY = re.compile(
    rf"{T}[^<.;!?]{{0,40}}?\b(?:was|were|has been|have been|got|is being)\s+replaced\s+(?:by|with)\s+"
    rf"(?:the\s+|a\s+)?{T}"
)
MIGRATION_PAREN = re.compile(
    rf"{T}[^()<]{{0,60}}\((?:which\s+)?replac\w*\s+(?:the\s+|our\s+)?(?:\w+\s+)?{T}"
)
MIGRATION_THEN = re.compile(
    rf"{T}[^<.;!?]{{0,40}}?\b(?:at first|initially|originally|before)\b[^<.;!?]{{0,30}}?"
    rf"\b(?:then|later|eventually|now|and)\b[^<.;!?]{{0,40}}?{T}"
)
MIGRATION_LEGACY = re.compile(
    rf"\blegacy\s+{T}[^<.;!?]{{0,60}}?\bnew (?:development|code|work)\b[^<.;!?]{{0,30}}?{T}"
)
MIGRATION_INSTEAD = re.compile(
    rf"(?:adapt|adopt|switch|move|migrat|use|chose|pick)\w*\s+{T}[^<.;!?]{{0,60}}?\binstead of\s+{T}"
)
MIGRATION_TO_ONLY = re.compile(
    rf"\b(?:migrat\w*|mov(?:ed|ing|e)|switch\w*|transition\w*|went|port\w*|offload\w*|turned|"
    rf"replatform\w*)\s+(?:\w+\s+){{0,4}}?(?:over\s+)?(?:entirely\s+)?(?:to|onto)\s+"
    rf"(?:the\s+|a\s+|use\s+|using\s+)?{T}"

)


def to_only_marker(match: re.Match[str]) -> str:
    """The target marker of a MIGRATION_TO_ONLY match (either of its alternatives)."""
    return next(g for g in match.groups() if g is not None)


MIGRATION_VERB = re.compile(
    r"\b(?:migrat\w*|moved|moving|switch\w*|transition\w*|replac\w*|ported|porting|went|"
    r"offload\w*|rewr\w*|dockeriz\w*|containeriz\w*|adapt\w*)\b"
)

# -- reasons and regrets -----------------------------------------------------------------
# Two tiers each: a strong cue decides on its own, weak cues need company.
REASON_STRONG = re.compile(
    r"\b(?:because|due to|thanks to|the (?:main )?reasons?|reasons? (?:why|we|for)|"
    r"allow(?:s|ed)? (?:us|users|developers|teams|you)|let(?:s)? (?:us|you)|enabl(?:es|ed) (?:us|you)|"
    r"help(?:s|ed)? (?:us|you)|gives? (?:us|you)|gave us|so that|easy to|easier|simple|simplicity|"
    r"simplif\w+|productiv\w*|fast(?:er)?|quick(?:er|ly)?|reliab\w+|stable|stability|mature|"
    r"maturity|scalab\w+|scales? well|flexib\w+|powerful|great|excellent|amazing|awesome|"
    r"love[sd]?|happy with|worked (?:\w+ )?well|works (?:\w+ )?well|just works|worked just fine|"
    r"solid|cheap(?:er)?|cost[- ]effective|affordable|inexpensive|gold standard|sweet spot|"
    r"improv(?:es|ed)|out of the box|no complaints?|recommend\w*|favou?rite|convenient|pleasant|"
    r"best|better|benefits?|advantages?|for its|for their|nicely|painless|seamless\w*|robust|"
    r"battle[- ]tested|good|decent|works fine|worked fine|just fine|big win|prevalent|"
    r"satisfactory|peace of mind|tight integrations?|well adopted|widely (?:accepted|adopted)|"
    r"(?:very|really|quite|super) (?:useful|handy|nice|helpful|good)|useful|handy|helpful|"
    r"saves? (?:us|time|money)|performan(?:t|ce) (?:boost|gains?|improvements?))\b",
    re.I,
)
REASON_WEAK = re.compile(
    r"\b(?:since|as it|as they|which means|popular|standard|supports?|support for|native|"
    r"chose|picked|settled on|went with|opted for|"
    r"control|insights?|visibility|observab\w+|track\w*|alerts?|catch\w*|free|open[- ]source|"
    r"performance|compatib\w+|integrat\w+|decided|in order to|ensur\w+|keep an eye|"
    r"provides?|offers?|built-in|features?|automatic\w*|efficient\w*|familiar\w*|"
    r"community|ecosystem|well[- ]documented|documentation)\b",
    re.I,
)
REGRET_STRONG = re.compile(
    r"\b(?:regret\w*|wish(?:ed)? (?:we|i|it)|next time|mistake|complain\w*|complaints?|pain\w*|"
    r"frustrat\w*|drawbacks?|downsides?|too niche|out of maintenance|unmaintained|"
    r"turned (?:me|us) off|clunky|lousy|terrible|awful|horrible|nightmare|hated?|sucks|sucking|"
    r"worst|not (?:very )?friendly|rough edges?|(?:steep )?learning curve|hard time|"
    r"not confident|not evolving|lack of (?:progress|support|maturity)|screwed|"
    r"absolutely wouldn't|wouldn't (?:do|use|choose|pick) (?:it|that|them) again|should have|"
    r"would have been better|something other than|expensive|costly|costs? (?:a lot|too much)|"
    r"slow(?:er|ly|ness)?|unreliable|flaky|buggy|acted up|went down|go down|errors after errors|"
    r"headaches?|fragile|brittle|lock(?:s|ed)? (?:you |us )?in(?:to)?|lock-in|bloated|"
    r"overkill|too (?:magical|heavy|complex|complicated|expensive|slow|much)|awkward|kinkiness|"
    r"unopinionated|out of date|deprecated|gave up|struggl\w+|a pain|weird|annoy\w*|"
    r"unfortunately|challeng\w+|hurt\w*|confus\w+|doesn't scale|didn't scale|not scal\w+|"
    r"bottlenecks?|outages?|downtime|crumble\w*|difficult to|hard to|harder to|tricky|"
    r"(?:a lot of|lots of|many|tons of|plenty of|some) (?:issues|problems|bugs)|"
    r"(?:issues?|problems?) with|lack of|lacks|lacking|woes|stuck|would be nice|"
    r"eagerly awaiting|a bit minimal|not (?:great|ideal|the best|worth it)|not solid|"
    r"none of them is solid|behind)\b",
    re.I,
)
REGRET_WEAK = re.compile(
    r"\b(?:issues?|problems?|problematic|limits?|limited|limitations?|lack(?:s|ing)?|"
    r"difficult\w*|hard(?:er)?|can't|couldn't|cannot|unable|fail\w*|minimal|awaiting|"
    r"would be nice|missing|the only|wasn't|isn't|not (?:great|ideal|good|the best|worth)|"
    r"high|harder|complex|complicated|legacy|workaround|concerns?|caveats?|gotchas?|"
    r"trade-?offs?|errors?|bugs?|broke|broken|no longer|ran into|run into|time[- ]consuming)\b",
    re.I,
)
STRONG_REGRET = re.compile(
    r"\b(?:regret\w*|i'd probably go for something other than|would (?:probably )?(?:go for|choose|pick|"
    r"use) (?:something|another)|next time|mistake|biggest complaint|painful|too niche|"
    r"out of maintenance|turned (?:me|us) off|we absolutely wouldn't|wouldn't again|"
    r"would not again|drawback|downside|wish we|should have|lock(?:s|ed)? (?:you |us )?in)",
    re.I,
)
WOULD_INSTEAD = re.compile(
    rf"\b(?:i'd|i would|we'd|we would|would)\s+(?:probably\s+|definitely\s+|rather\s+)?"
    rf"(?:go (?:for|with)|choose|pick|use|prefer|start with|recommend)\s+(?:\w+\s+){{0,2}}?{T}"
    rf"|\b(?:should have|wish we had)\s+(?:used|gone with|picked|chosen)\s+(?:\w+\s+){{0,2}}?{T}"
)
NEGATION_OF_PROBLEM = re.compile(
    r"\b(?:never had (?:big |any |major )?(?:issues?|problems?)|no (?:issues?|problems?|complaints?)|"
    r"without (?:any )?(?:issues?|problems?)|not (?:an? )?(?:issue|problem)|no complaint|"
    r"solv\w+ (?:the |our |this )?(?:issues?|problems?)|fix\w* (?:the |our )?(?:issues?|problems?))",
    re.I,
)


def compile_all(patterns: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in patterns]


PREVIOUS_RE = compile_all(PREVIOUS)
EVALUATED_RE = compile_all(EVALUATED)
PLANNED_RE = compile_all(PLANNED)
USES_RE = compile_all(USES)
NOT_STACK_RE = compile_all(NOT_STACK)


_CHAIN = re.compile(
    r"\s*(?:,\s*(?:and|or|as well as)?|;|/|\+|&|\band\b|\bor\b|\bas well as\b)\s*(?:the\s+)?<(\d+)>"
    r"(?!\s+(?:is|was|are|were|worked|works|has|had|does|did|seems|seemed|runs|ran|became)\b)"
)


def chain(skeleton: str, index: int) -> list[int]:
    """The marker `index` and those listed right after it ('<1>, <2> and <3>')."""
    found = [index]
    pos = skeleton.find(f"<{index}>")
    while pos >= 0:
        pos += len(f"<{found[-1]}>")
        match = _CHAIN.match(skeleton, pos)
        if not match or int(match.group(1)) != found[-1] + 1:
            break
        found.append(int(match.group(1)))
        pos = match.start(1) - 1
    return found


def marked(patterns: list[re.Pattern[str]], skeleton: str, *, chains: bool = True) -> set[int]:
    """Indices of the tool markers that some pattern captures in `skeleton`."""
    found: set[int] = set()
    for pattern in patterns:
        for match in pattern.finditer(skeleton):
            groups = [int(g) for g in match.groups() if g is not None]
            if not groups:
                found.update(int(k) for k in re.findall(r"<(\d+)>", skeleton))
                continue
            for g in groups:
                found.update(chain(skeleton, g) if chains else [g])
    return found


# -- scoring a sentence by its cues ----------------------------------------------------
CONTRAST = re.compile(r"\b(?:but|however|although|though|unfortunately|except)\b", re.I)


@lru_cache(maxsize=4096)  # the rules and the features score the same sentences
def part_scores(part: str) -> tuple[float, float]:
    negated = len(NEGATION_OF_PROBLEM.findall(part))
    regret = (2 * len(REGRET_STRONG.findall(part)) + len(REGRET_WEAK.findall(part))
              - 3 * negated)
    reason = (2 * len(REASON_STRONG.findall(part)) + len(REASON_WEAK.findall(part))
              + 2 * negated)
    return reason, regret


HEARSAY = re.compile(
    r"\b(?:it'?s often said|it is often said|supposedly|allegedly|reportedly)\b",
    re.I,
)
NEGATED_PRAISE = re.compile(
    r"\b(?:not|n't|never|hardly)\s+(?:\w+\s+)?(?:the\s+)?(?:best|great|ideal|good|easy|simple|"
    r"reliable|stable|fast|solid|mature|friendly|happy)\b"
)


@lru_cache(maxsize=4096)
def judge(text: str) -> tuple[bool, bool, bool]:
    """(is a reason, is a regret, strong regret). A 'but' sentence can be both:
    "Some products are clunky but overall the support has been satisfactory."
    """
    lowered = text.lower().replace("\u2019", "'")
    lowered = NEGATED_PRAISE.sub(" a pain ", lowered)  # "not the best" is a complaint
    strong = bool(STRONG_REGRET.search(lowered))
    parts = CONTRAST.split(lowered, maxsplit=1)
    if len(parts) == 1:
        reason, regret = part_scores(lowered)
        is_regret = strong or (regret >= 2 and regret >= reason)
        return (not is_regret and reason >= 2), is_regret, strong
    scored = [part_scores(p) for p in parts]
    is_regret = strong or any(g >= 2 and g > r for r, g in scored)
    is_reason = any(r >= 2 and r > g for r, g in scored)
    return is_reason, is_regret, strong
