"""Cue phrases that tell status, reasons, regrets and migrations from a sentence.

Patterns run on a *skeleton* of the sentence: lower-cased, with every tool mention replaced
by a marker `<k>` (k = the mention's index in the sentence). Keeping the lexicon here keeps
the extractor's control flow readable and the phrases easy to review.
"""

from __future__ import annotations

import re

T = r"<(\d+)>"  # a tool marker, capturing its index
GAP = r"(?:[^<.;:!?]{0,40}?)"  # a short stretch of words between cue and tool
SEP = r"(?:\s*(?:,|and|or|&|\+|/)\s*)"

# -- status ------------------------------------------------------------------------------
PREVIOUS = [
    rf"(?:migrat|mov|switch|transition|port|convert|went|shift|chang|offload|upgrad)\w*\s+{GAP}(?:away\s+)?from\s+(?:the\s+|our\s+|using\s+)?{T}",
    rf"(?:ripped out|got rid of|dropped|removed|abandon\w*|retired|deprecated|sunset\w*|phased out|replaced|replacing|ditched|killed off|turned off|shut down|stopped using|no longer use\w*|moved off|moved away from|outgrew|left)\s+(?:the\s+|our\s+|all\s+)?(?:\w+\s+)?{T}",
    rf"{T}{GAP}\b(?:was|were|got|has been|have been|had been|is being)\s+(?:\w+\s+)?(?:replaced|removed|retired|deprecated|dropped|phased out|ripped out|sunset|abandoned)",
    rf"\blegacy\s+(?:\w+\s+)?{T}",
    rf"\b(?:used to|had been using|previously used|formerly used|originally used|initially used|were using|started with|started out with|began with)\s+(?:\w+\s+){{0,2}}{T}",
    rf"\b(?:we|i)\s+(?:used|had|ran|tried|chose|picked|went with)\s+{T}{GAP}\b(?:at first|initially|originally|in the beginning|early on|before|until)",
    rf"{T}{GAP}\b(?:at first|initially|originally|in the beginning|back then)\b",
    rf"\bin the {T} era\b",
    rf"\((?:replac\w*|formerly|previously|was)\s+(?:the\s+|our\s+)?(?:\w+\s+)?{T}",
]
EVALUATED = [
    rf"\b(?:tried|trying out|considered|evaluated|evaluating|looked at|looked into|experimented with|prototyped|compared|weighed|explored|investigated|benchmarked|played with|toyed with|assessed|tested out|piloted|trialled|trialed)\s+(?:\w+\s+){{0,3}}?{T}",
    rf"\b(?:briefly|also|even)\s+(?:considered|tried|evaluated|looked at)\s+(?:\w+\s+){{0,2}}?{T}",
    rf"\b(?:instead of|rather than|as opposed to)\s+(?:something like\s+|using\s+|the\s+|a\s+)?(?:\w+\s+)?{T}",
    rf"\b(?:decided against|ruled out|rejected|passed on|avoided|intentionally avoided|opted against|chose not to use)\s+(?:\w+\s+){{0,2}}?{T}",
    rf"\bwhy not\s+{T}",
    rf"{T}{GAP}\b(?:turned (?:me|us) off|too (?:magical|heavy|complex|expensive|immature)|didn't make the cut|was ruled out|lost out)",
    rf"\b(?:too\s+\w+\s+for us to adopt|not ready to adopt)\b.{{0,20}}{T}|{T}.{{0,60}}\btoo\s+\w+(?:\s+and\s+\w+)?\s+for us to adopt",
]
PLANNED = [
    rf"\b(?:will|going to|plan(?:ning)? to|intend(?:ing)? to|aim(?:ing)? to|hope to|hoping to|about to|are (?:moving|migrating|switching|transitioning) to|(?:were|are) trying to (?:switch|move|migrate|transition) to|in the process of (?:moving|migrating|switching) to)\s+(?:\w+\s+){{0,4}}?{T}",
    rf"{T}{GAP}\b(?:is|are)\s+(?:on our roadmap|next on our list|planned|coming soon)",
    rf"\b(?:roadmap|next quarter|next year|later this year)\b.{{0,60}}{T}",
    rf"\b(?:currently|now|soon)\s+(?:integrating|adopting|rolling out|migrating to|moving to|onboarding)\s+(?:\w+\s+){{0,2}}?{T}",
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
    rf"\b(?:my|our|his|her|their)\s+(?:previous|former|last|old)\s+(?:company|employer|job|team|startup|gig)\b",
    rf"\b(?:at|when i was at|back at)\s+(?:google|facebook|meta|netflix|uber|airbnb|amazon|microsoft|twitter|linkedin)\b",
    rf"\b(?:abstractions|frameworks|libraries|tools)\s+like\s+{T}",
    rf"\b(?:the maturity of|as mature as|maturity of)\s+{T}",
    rf"\b(?:hope rests on|excited about|keeping an eye on|watching)\s+{T}",
    rf"\balternatives?\s*:\s*(?:{T}{SEP}?)+",
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
    rf"\b[^<.;:!?]{{0,50}}?\bfrom\s+(?:the\s+|our\s+|using\s+)?{T}(?:{SEP}{T})*"
    rf"[^<.;!?]{{0,40}}?\b(?:to|into|onto|with|for)\s+(?:the\s+|a\s+|an\s+)?{T}(?:\s*\+\s*{T})?"
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
    rf"\b(?:migrat\w*|mov(?:ed|ing|e)|switch\w*|transition\w*|went|port\w*|offload\w*)\s+"
    rf"(?:\w+\s+){{0,4}}?(?:over\s+)?(?:entirely\s+)?to\s+(?:the\s+|a\s+)?{T}"
)
MIGRATION_VERB = re.compile(
    r"\b(?:migrat\w*|moved|moving|switch\w*|transition\w*|replac\w*|ported|porting|went|"
    r"offload\w*|rewr\w*|dockeriz\w*|containeriz\w*|adapt\w*)\b"
)

# -- reasons and regrets -----------------------------------------------------------------
REASON_CUES = re.compile(
    r"\b(?:because|since|due to|thanks to|as it|as they|so that|so we|which means|which allows|"
    r"allow(?:s|ed)? us|let(?:s)? us|enabl\w+|help(?:s|ed)? us|gives? us|gave us|the reason|"
    r"reasons?\b|benefits?|advantages?|pros?\b|easy|easier|simple|simplicity|productiv\w*|"
    r"fast|faster|quick\w*|reliab\w*|stable|mature|maturity|scal\w+|flexib\w*|powerful|great|"
    r"excellent|amazing|awesome|love|loved|happy|pleasant|worked (?:\w+ )?well|works well|"
    r"just works|worked just fine|good|better|best|solid|cheap\w*|cost-effective|affordable|"
    r"free|open[- ]source|popular|standard|gold standard|sweet spot|improv\w+|boost\w*|"
    r"performan\w+|compatib\w+|integrat\w+ (?:well|nicely)|out of the box|no complaint|"
    r"recommend|favou?rite|native|convenient|control|insight|observab\w*|visibility|"
    r"support for|supports|built-in|keep(?:s)? an eye|track|alert|catch|chose|picked|"
    r"decided|settled|for its|for their|in order to|to make sure|ensur\w+)\b",
    re.I,
)
REGRET_CUES = re.compile(
    r"\b(?:regret\w*|wish\w*|would have|should have|could have|next time|mistake|pain\w*|"
    r"complain\w*|complaint|issues?|problems?|problematic|struggl\w*|hard to|harder|difficult|"
    r"difficulty|slow\w*|expensive|costly|cost us|buggy|bugs?|flaky|unreliable|unstable|"
    r"out of maintenance|unmaintained|abandoned|too niche|niche|drawbacks?|downsides?|"
    r"limitations?|limited|lacking|lack of|lacks|frustrat\w*|turned (?:me|us) off|not great|"
    r"wouldn't|would not|screwed|hurt\w*|headaches?|annoy\w*|bottlenecks?|outages?|lock[- ]?in|"
    r"locked in|fragile|crumble\w*|brittle|clunky|awkward|kinkiness|legacy|immature|overkill|"
    r"magical|heavy|bloated|verbose|confus\w*|breaking changes|rewriting|rewrite|painful|"
    r"sucks|sucking|worst|terrible|awful|horrible|nightmare|hated?|gave up|couldn't|"
    r"could not|can't|cannot|unable|fail\w*|broke|broken|downtime|error-prone|concerns?|"
    r"caveats?|gotchas?|trade-?offs?|not (?:ideal|worth|a good fit)|became an issue|"
    r"ran into|run into|hit (?:a|the) (?:wall|limit)|limits?|no longer|went wrong|"
    r"the only (?:drawback|downside|problem))\b",
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


def marked(patterns: list[re.Pattern[str]], skeleton: str) -> set[int]:
    """Indices of the tool markers that some pattern captures in `skeleton`."""
    found: set[int] = set()
    for pattern in patterns:
        for match in pattern.finditer(skeleton):
            groups = [g for g in match.groups() if g is not None]
            if groups:
                found.update(int(g) for g in groups)
            else:
                found.update(int(k) for k in re.findall(r"<(\d+)>", skeleton))
    return found
