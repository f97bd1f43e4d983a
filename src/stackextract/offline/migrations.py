"""Migrations: which pairs of tools the team moved between, and in which direction.

The migration model scores each ordered pair of features.migration_candidates; of the two
directions of a pair only the likelier one can be emitted.
"""

from __future__ import annotations

from stackextract.models import Evidence, Migration
from stackextract.offline.features import MigrationCandidate
from stackextract.offline.model import OfflineModel
from stackextract.offline.opinions import quote


def decide_migrations(
    model: OfflineModel, candidates: list[MigrationCandidate], tools: set[str]
) -> list[Migration]:
    scored = {(c.source, c.target): (model.migration(c.features), c)
              for c in candidates if c.source in tools and c.target in tools}
    out = []
    for (src, dst), (p, cand) in sorted(scored.items()):
        reverse = scored.get((dst, src))
        if p < model.threshold("migration") or (reverse is not None and reverse[0] > p):
            continue
        out.append(Migration(from_tool=src, to_tool=dst, confidence=round(p, 3),
                             evidence=[Evidence(quote=quote(cand.infos[0]))]))
    return out
