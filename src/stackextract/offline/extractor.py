"""The offline extractor: catalog candidates, decided by models learned from labelled writeups.

Steps: candidates.py finds mentions (catalog + unknown-name recogniser) and cue patterns;
features.py turns them into features; model.py scores them with the shipped weights
(data/offline_model.json, trained by scripts/train.py); opinions.py and migrations.py pick
reasons, regrets and migrations. Deterministic, no network, no numpy.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from stackextract._version import __version__
from stackextract.catalog.vocabulary import Catalog
from stackextract.models import (
    Document,
    Evidence,
    Migration,
    Provenance,
    Regret,
    Stack,
    Status,
    Tool,
    config_hash,
)
from stackextract.offline import cues
from stackextract.offline.candidates import Candidates, Hit, find_candidates
from stackextract.offline.features import (
    Context,
    Features,
    MigrationCandidate,
    OpinionCandidate,
    clear_token_cache,
    context,
    document_features,
    migration_candidates,
    opinion_candidates,
    tool_features,
)
from stackextract.offline.migrations import decide_migrations
from stackextract.offline.model import OfflineModel, default_model
from stackextract.offline.opinions import decide_opinions, purpose, quote
from stackextract.offline.rules import decide_by_rules


@dataclass
class Featurized:
    """One document's candidates and their features: what the models decide on."""

    found: Candidates
    ctx: Context
    tools: dict[str, list[Hit]]
    tool_features: dict[str, Features]
    opinions: list[OpinionCandidate]
    migrations: list[MigrationCandidate]
    document: Features


def is_english(document: Document) -> bool:
    """Pages that trafilatura tags with another language are not read as English."""
    lang = (document.language or "").strip().lower()
    return not lang or lang.startswith("en")


def data_fingerprint(directory: Path | None = None) -> str:
    """A hash of every file under the package's data/ folder (or `directory`), whatever
    they are: the offline extractor reads its word lists and any learned weights there."""
    root = Path(directory) if directory is not None else Path(str(
        resources.files("stackextract").joinpath("data")))
    return _files_hash(root, sorted(p for p in root.rglob("*") if p.is_file()))


# the code whose changes change what the offline backend stores for a text: its own steps,
# the catalog matcher, grounding, the pipeline's filters and the records
DECIDING_CODE = ("offline", "catalog", "grounding", "pipeline.py", "models.py")


def code_fingerprint(package: Path | None = None) -> str:
    """A hash of the source of DECIDING_CODE in the package (or `package`): an edited
    checkout (`pip install -e`) changes its code without changing its version, and a stored
    extraction made by other code must not be served as this code's."""
    root = Path(package) if package is not None else Path(__file__).resolve().parent.parent
    files: list[Path] = []
    for part in DECIDING_CODE:
        path = root / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
    return _files_hash(root, files)


def _files_hash(root: Path, files: list[Path]) -> str:
    """The hash of `files` (under `root`, bytecode caches left out), read again only when a
    name, size or modification time changes."""
    stamp = tuple((str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns)
                  for f in files if "__pycache__" not in f.parts)
    return _data_hash(str(root), stamp)


@functools.lru_cache(maxsize=8)
def _data_hash(root: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for name, _size, _mtime in stamp:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256((Path(root) / name).read_bytes()).digest())
    return digest.hexdigest()[:16]


MIN_WORDS = 150  # a snippet shorter than this is not scored for relevance (None)


def scored_for_relevance(feat: Featurized) -> bool:
    """The relevance model learned from whole pages; it does not judge a sentence or two."""
    return len(feat.found.view.split()) >= MIN_WORDS


def clear_caches() -> None:
    cues.judge.cache_clear()
    cues.part_scores.cache_clear()
    clear_token_cache()


def featurize(document: Document, catalog: Catalog, *, unknown: bool = True) -> Featurized:
    clear_caches()  # they share work within one document; another document starts afresh
    found = find_candidates(document, catalog, unknown=unknown)
    ctx = context(found)
    tools = found.hits_by_tool()
    feat = Featurized(
        found=found, ctx=ctx, tools=tools,
        tool_features={name: tool_features(ctx, hits) for name, hits in tools.items()},
        opinions=opinion_candidates(ctx, set(tools)),
        migrations=migration_candidates(ctx, tools),
        document=document_features(found),
    )
    _add_rule_features(feat)
    return feat


def _add_rule_features(feat: Featurized) -> None:
    """Today's rule-based decisions, as features beside the others."""
    tools, reasons, regrets, migrations = decide_by_rules(feat.found.infos)
    by_name = {t.canonical: t for t in tools}
    for name, f in feat.tool_features.items():
        rule = by_name.get(name)
        if rule is None:
            f["rule_dropped"] = 1.0
        else:
            f["rule_kept"] = 1.0
            f[f"rule_status={rule.status.value}"] = 1.0
            f[f"rule_confidence={int(rule.confidence * 10)}"] = 1.0
    said = {("reason", r.tool, r.evidence[0].quote) for r in reasons}
    said |= {("regret", r.tool, r.evidence[0].quote) for r in regrets}
    for cand in feat.opinions:
        q = quote(feat.found.infos[cand.info.sentence.index])
        for kind in ("reason", "regret"):
            if (kind, cand.tool, q) in said:
                cand.features[f"rule_{kind}_here"] = 1.0
            elif any(k == kind and q == x for k, _, x in said):
                cand.features[f"rule_{kind}_other_tool"] = 1.0
    pairs = {(m.from_tool, m.to_tool) for m in migrations}
    for m in feat.migrations:
        if (m.source, m.target) in pairs:
            m.features["rule_migration"] = 1.0
        if (m.target, m.source) in pairs:
            m.features["rule_migration_reversed"] = 1.0


def decide(feat: Featurized, model: OfflineModel, *, relevance: float | None = None,
           backend: str = "offline", started: float | None = None) -> Stack:
    """The Stack the models give for one featurized document."""
    started = time.perf_counter() if started is None else started
    if relevance is None and scored_for_relevance(feat):
        relevance = model.relevance(feat.document)
    tools: dict[str, Tool] = {}
    for name, hits in feat.tools.items():
        f = feat.tool_features[name]
        p = model.tool(f)
        if p < model.threshold("tool"):
            continue
        statuses = model.status(f)
        status = Status(max(statuses, key=lambda s: statuses[s]))
        entry = hits[0].mention.entry
        best = sorted(hits, key=lambda h: (not h.cues, h.sentence.index))[:3]
        evidence = list({quote(feat.found.infos[h.sentence.index]): None for h in best})
        tools[name] = Tool(
            name=hits[0].mention.text, canonical=entry.name, category=entry.category,
            status=status, purpose=purpose(feat.ctx, hits) if status is Status.uses else None,
            confidence=round(p, 3), in_catalog=entry.known,
            evidence=[Evidence(quote=q) for q in evidence],
        )
    reasons, regrets = decide_opinions(model, feat.opinions, set(tools),
                                       feat.found.infos, feat.found.document.text)
    migrations = decide_migrations(model, feat.migrations, set(tools))
    regrets = instead_from_migrations(regrets, migrations, tools)
    return Stack(
        source=feat.found.document.to_source(),
        company=feat.found.company,
        relevance=None if relevance is None else round(relevance, 3),
        tools=list(tools.values()),
        reasons=reasons,
        regrets=regrets,
        migrations=migrations,
        provenance=Provenance(
            backend=backend, model=f"learned-{model.digest}", stackextract_version=__version__,
            duration_s=round(time.perf_counter() - started, 4),
        ),
    )


def instead_from_migrations(regrets: list[Regret], migrations: list[Migration],
                            tools: dict[str, Tool]) -> list[Regret]:
    """What they would pick instead of a regretted tool, where the sentence does not say it
    but the writeup does: the tool they moved to from it ('Snowflake is more expensive than
    BigQuery' in a writeup whose migration is Snowflake -> BigQuery). Only for a tool they
    left (used previously or evaluated) and a target they use or plan to."""
    left = {Status.used_previously, Status.evaluated}
    kept = {Status.uses, Status.planned}
    status = {name.casefold(): t.status for name, t in tools.items()}
    targets: dict[str, str] = {}
    for m in migrations:
        if status.get(m.to_tool.casefold()) in kept:
            targets.setdefault(m.from_tool.casefold(), m.to_tool)
    out = []
    for r in regrets:
        target = targets.get(r.tool.casefold())
        if r.would_instead is None and target is not None and status.get(
                r.tool.casefold()) in left:
            r = r.model_copy(update={"would_instead": target})
        out.append(r)
    return out


class LearnedExtractor:
    """The `offline` backend: catalog candidates, learned decisions."""

    name = "offline"

    def __init__(self, *, catalog: Catalog | None = None, propose_unknown: bool = True,
                 model: OfflineModel | None = None) -> None:
        self.catalog = catalog or Catalog.default()
        self.propose_unknown = propose_unknown
        self.model = model or default_model()

    def config_key(self) -> str:
        """What changes the output: the version, the shipped weights, the catalog, every
        bundled data file, the deciding code and the settings (a retrain, a new catalog or an
        edited checkout re-extracts)."""
        return config_hash(backend=self.name, model=f"learned-{__version__}",
                           prompt_version=None, weights=self.model.digest,
                           catalog=self.catalog.fingerprint, data=data_fingerprint(),
                           code=code_fingerprint(), propose_unknown=self.propose_unknown)

    async def aextract(self, document: Document) -> Stack:
        return self.extract(document)

    def extract(self, document: Document) -> Stack:
        started = time.perf_counter()
        if not is_english(document):
            return Stack(
                source=document.to_source(), relevance=0.0,
                provenance=Provenance(backend=self.name, model=f"learned-{self.model.digest}",
                                      stackextract_version=__version__),
            )
        feat = featurize(document, self.catalog, unknown=self.propose_unknown)
        return decide(feat, self.model, backend=self.name, started=started)


HeuristicExtractor = LearnedExtractor  # the name the public API and older code use
