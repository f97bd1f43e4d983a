"""Opinion candidates and evidence: the tool of a heading or the title, the passage quoted."""

from __future__ import annotations

from stackextract.catalog.vocabulary import Catalog
from stackextract.models import Document
from stackextract.offline.extractor import featurize
from stackextract.offline.features import opinion_words
from stackextract.offline.opinions import passage, passage_quote

TEXT = """# Why we picked PostgreSQL

It was easy for new engineers to pick up. Backups are boring, in a good way.

## Caching

We run Redis in front of the API. It has never lost a key for us.
"""


def _pairs(text: str, title: str | None = None) -> dict[tuple[str, str], str]:
    feat = featurize(Document(text=text, title=title), Catalog.default())
    return {(c.info.text, c.tool): c.source for c in feat.opinions}


def test_a_sentence_that_names_no_tool_is_paired_with_its_headings_tool() -> None:
    pairs = _pairs(TEXT)
    assert pairs[("It was easy for new engineers to pick up.", "PostgreSQL")] == "heading"
    assert pairs[("We run Redis in front of the API.", "Redis")] == "named"
    # the heading above "Caching" names no tool: PostgreSQL's heading no longer applies
    assert ("It has never lost a key for us.", "PostgreSQL") not in pairs
    assert pairs[("It has never lost a key for us.", "Redis")] == "carried"


def test_a_tool_of_the_title_is_a_candidate_for_every_sentence() -> None:
    text = ("We run every service on Kubernetes.\n\n## Lessons\n\n"
            "The first months were rough. Upgrades broke every week.\n")
    pairs = _pairs(text, title="Lessons from two years of Kubernetes and Helm")
    assert pairs[("Upgrades broke every week.", "Kubernetes")] == "title"
    assert ("Upgrades broke every week.", "Kubernetes") not in _pairs(text)


def test_evidence_covers_the_antecedent_of_a_carried_tool() -> None:
    feat = featurize(Document(text=TEXT), Catalog.default())
    cand = next(c for c in feat.opinions
                if c.tool == "Redis" and c.source == "carried")
    quoted = passage_quote(passage(cand, feat.found.infos), feat.found.document.text)
    assert quoted == "We run Redis in front of the API. It has never lost a key for us."
    named = next(c for c in feat.opinions if c.tool == "Redis" and c.source == "named")
    # a named sentence followed by "It ..." about the same tool takes that sentence along
    assert passage(named, feat.found.infos)[-1].text == "It has never lost a key for us."


def test_opinion_words_are_general_words_with_a_valence() -> None:
    words = opinion_words()
    assert len(words) > 5000
    assert words["great"] > 0 > words["painful"]
    assert all(w.replace("'", "").replace("-", "").isalpha() for w in words)


def _migration_patterns(text: str) -> dict[tuple[str, str], set[str]]:
    feat = featurize(Document(text=text), Catalog.default())
    return {(m.source, m.target): {k for k in m.features if k.startswith("pat=")}
            for m in feat.migrations}


def test_from_to_reads_past_a_tool_between_the_verb_and_from() -> None:
    """'migrating PostHog from Postgres to ClickHouse': the product moved is named between
    the verb and 'from', and is neither the source nor the target."""
    pats = _migration_patterns(
        "We wrote about our experience migrating PostHog from Postgres to ClickHouse.")
    assert "pat=from_to" in pats[("PostgreSQL", "ClickHouse")]
    assert "pat=from_to" not in pats.get(("PostHog", "ClickHouse"), set())


def test_from_to_allows_a_few_words_before_the_source() -> None:
    pats = _migration_patterns(
        "We should port the content store from its current legacy self-hosted MongoDB, "
        "to PostgreSQL running on RDS.")
    assert "pat=from_to" in pats[("MongoDB", "PostgreSQL")]
    assert "pat=from_to" not in pats.get(("PostgreSQL", "MongoDB"), set())
