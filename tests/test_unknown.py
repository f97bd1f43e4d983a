"""The recogniser of names the catalog lacks (offline/unknown.py) and the code-only rule."""

from __future__ import annotations

from pathlib import Path

from stackextract.catalog import Catalog
from stackextract.models import Document
from stackextract.offline.extractor import HeuristicExtractor
from stackextract.offline.prose import prose_mask
from stackextract.offline.sentences import split
from stackextract.offline.unknown import THRESHOLD, propose_unknown, score_unknown

SMALL = Catalog.from_records([
    {"name": "PostgreSQL", "aliases": ["Postgres"], "category": "database"},
    {"name": "Redis", "category": "cache"},
    {"name": "Kafka", "category": "queue"},
    {"name": "Docker", "category": "containers"},
    {"name": "retry", "category": "backend", "case_sensitive": True, "code_only": True,
     "common_word": True, "sources": ["awesome-go"], "popularity": 0.4},
])


def proposed(text: str, catalog: Catalog = SMALL) -> dict[str, float]:
    view = prose_mask(text)
    return {m.entry.name: m.entry.popularity
            for m in propose_unknown(view, split(view), catalog, text)}


def test_link_to_the_projects_own_page() -> None:
    text = ("The kiosk is built with [Starscream](https://github.com/daltoniam/starscream), "
            "and queries go through [Mongoid](http://mongoid.org/).\n")
    found = proposed(text)
    assert set(found) == {"Starscream", "Mongoid"}
    assert all(THRESHOLD <= c <= 1.0 for c in found.values())


def test_links_to_people_and_articles_are_not_products() -> None:
    text = ("Thanks to [Punyon](https://twitter.com/JasonPunyon) and "
            "[our chat](https://chat.example.com/rooms) for the help.\n")
    assert proposed(text) == {}


def test_cues_and_enumerations() -> None:
    text = ("We use Frobnicator for the nightly jobs.\n\n"
            "We compared Postgres, Redis, CitrusDB and Kafka.\n")
    found = proposed(text)
    assert "Frobnicator" in found
    assert "CitrusDB" in found  # a product-shaped name among catalog tools


def test_shape_alone_is_not_enough() -> None:
    """Plural acronyms, model numbers and a lone CamelCase word are not proposed."""
    text = "We moved the VMs and the DR0 racks. The HomeView renders fast. L1 caches help.\n"
    view = prose_mask(text)
    scored = {s.name: s for s in score_unknown(view, split(view), SMALL, text)}
    assert "VMs" not in scored and "DR0" not in scored and "L1" not in scored
    assert scored["HomeView"].score < THRESHOLD
    assert proposed(text) == {}


def test_a_list_of_tools_proposes_its_unknown_items() -> None:
    text = "Our stack:\n\n- PostgreSQL\n- Redis\n- Kafka\n- Hokusai\n"
    assert "Hokusai" in proposed(text)


def test_word_like_names_count_only_as_code() -> None:
    """An entry flagged code_only ('retry', a word) is a tool only when written as code."""
    extractor = HeuristicExtractor(catalog=SMALL, propose_unknown=False)
    prose = extractor.extract(Document(text="We retry failed jobs on Docker every night."))
    assert [t.canonical for t in prose.tools] == ["Docker"]
    code = extractor.extract(Document(text="We use `retry` for backoff, on Docker."))
    assert sorted(t.canonical for t in code.tools) == ["Docker", "retry"]


def test_the_authors_company_is_not_proposed() -> None:
    doc = Document(text="At Acmeflux we use Frobnicator. Acmeflux runs on Docker.",
                   site_name="Acmeflux")
    names = {t.canonical for t in HeuristicExtractor(catalog=SMALL).extract(doc).tools}
    assert "Frobnicator" in names and "Acmeflux" not in names


def test_a_casing_of_its_own_lifts_the_code_only_rule() -> None:
    """'JMESPath' is not how prose writes a word; 'Jmespath' at a sentence start would be."""
    catalog = Catalog.from_records([
        {"name": "jmespath", "category": "backend", "code_only": True, "sources": ["pypi"],
         "popularity": 0.9},
        {"name": "Docker", "category": "containers"},
    ])
    extractor = HeuristicExtractor(catalog=catalog, propose_unknown=False)
    found = extractor.extract(Document(text="We filter the logs with JMESPath on Docker."))
    assert sorted(t.canonical for t in found.tools) == ["Docker", "jmespath"]


def test_fast_paths_find_what_the_regexes_find() -> None:
    """The recogniser's shortcuts (the 'X is a tool' cue tried only before its junctions,
    a name's standalone occurrences by str.find, overlap by bisection) give what the plain
    regex scans and loops give, on the corpus fixtures and on generated word salads."""
    import random
    import re

    from stackextract.offline import unknown

    root = Path(__file__).resolve().parent.parent / "fixtures"
    texts = [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.txt"))][:20]
    assert texts
    rnd = random.Random(7)
    words = ["Foo", "is", "a", "was", "an", "our", "tool", "library", "x.y", "Bar", "Baz-Qux",
             "\n", "\t", "\u00a0", '"', ",", "js", "A1", "Foo.js", "-", ".", "_", "Foo_1"]
    texts += [" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 40)))
              for _ in range(3000)]
    for text in texts:
        expected = [(m.span(), m.groups()) for m in unknown._IS_A.finditer(text)]
        assert [(m.span(), m.groups()) for m in unknown._is_a_matches(text)] == expected
    for text in texts[-3000:] + texts[:3]:
        for name in ("Foo", "Foo.js", "Bar", "A1"):
            pattern = rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)"
            assert list(unknown._standalone(text, name)) == [
                m.start() for m in re.finditer(pattern, text)]
    for _ in range(500):
        spans = [(a, a + rnd.randint(0, 6)) for a in rnd.sample(range(60), 8)]
        start = rnd.randint(0, 60)
        end = start + rnd.randint(0, 8)
        assert unknown._Spans(spans).overlaps(start, end) == any(
            a < end and start < b for a, b in spans)


LINKED = Catalog.from_records([
    {"name": "Palette", "category": "frontend", "ambiguous": True, "code_only": True,
     "common_word": True},
    {"name": "Segment", "category": "analytics", "ambiguous": True, "common_word": True},
    {"name": "Apache Oozie", "aliases": ["Oozie"], "category": "data_pipeline"},
    {"name": "scikit-learn", "category": "ml"},
    {"name": "CocoaPods", "category": "mobile"},
    {"name": "Google", "category": "other", "ambiguous": True},
    *({"name": f"Google Thing {i}", "category": "other"} for i in range(20)),
    {"name": "Docker", "category": "containers"},
])


def candidate_names(text: str, catalog: Catalog = LINKED) -> set[str]:
    from stackextract.offline.candidates import find_candidates

    return {m.entry.name for m in find_candidates(Document(text=text), catalog).mentions}


def test_a_link_to_its_own_site_vouches_for_a_word_like_name() -> None:
    """Word-like or ambiguous names in a link's text count where the target is the tool's
    own repository or site; without the link the same words are not tools."""
    linked = ("We kept our component library [Palette](https://github.com/artsy/palette) and "
              "store usage data from [Segment Warehouses](https://segment.com/warehouses).\n")
    assert {"Palette", "Segment"} <= candidate_names(linked)
    plain = "We kept our component library palette and store Segment Warehouses data.\n"
    assert not {"Palette", "Segment"} & candidate_names(plain)


def test_a_link_spelled_loosely_or_described_names_its_target() -> None:
    text = ("Jobs run with some [Ooozie](http://oozie.apache.org) workflow scheduling, models "
            "with [sci-kit learn](http://scikit-learn.org/stable), and the pods are managed "
            "as others have [done this before](https://cocoapods.org).\n")
    assert {"Apache Oozie", "scikit-learn", "CocoaPods"} <= candidate_names(text)


def test_a_vendor_heading_a_longer_link_text_is_not_vouched() -> None:
    """'[Google Custom Search](https://www.google.com/cse)' is a product of Google's; the
    vendor's name in it does not become a tool because the link goes to google.com."""
    text = "Search used to run on [Google Custom Search](https://www.google.com/cse) on Docker.\n"
    assert "Google" not in candidate_names(text)
