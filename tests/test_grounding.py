from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stackextract.grounding.locate import Grounder, ground_stack, locate
from stackextract.models import Document, Evidence, Migration, Provenance, Reason, Stack, Tool

TEXT = (
    "We moved from Snowflake to BigQuery in 2021.\n\n"
    "Our   API runs on  Node.js — it’s “fast enough” for us.\n"
)


def test_exact_match_gives_the_span() -> None:
    span = locate("from Snowflake to BigQuery", TEXT)
    assert span is not None and span.method == "exact"
    assert TEXT[span.start : span.end] == "from Snowflake to BigQuery"


def test_whitespace_and_quotes_are_normalised() -> None:
    span = locate('Our API runs on Node.js - it\'s "fast enough"', TEXT)
    assert span is not None and span.method == "normalized"
    assert TEXT[span.start : span.end].startswith("Our   API")
    assert TEXT[span.start : span.end].endswith("enough”")


def test_fuzzy_match_tolerates_a_small_slip() -> None:
    span = locate("We moved from Snowflake to Big Query in 2021", TEXT)
    assert span is not None and span.method == "fuzzy"
    assert "Snowflake" in TEXT[span.start : span.end]


def test_invented_quote_is_not_found() -> None:
    assert locate("We chose Oracle for its licensing model", TEXT) is None


def _stack(tools: list[Tool], **items: object) -> Stack:
    doc = Document(text=TEXT)
    return Stack(source=doc.to_source(), tools=tools, provenance=Provenance(backend="test"),
                 **items)  # type: ignore[arg-type]


def test_ground_stack_drops_tools_the_text_never_names() -> None:
    doc = Document(text=TEXT)
    stack = _stack(
        [
            Tool(name="BigQuery", canonical="Google BigQuery",
                 evidence=[Evidence(quote="moved from Snowflake to BigQuery")]),
            Tool(name="Oracle", canonical="Oracle Database",
                 evidence=[Evidence(quote="We use Oracle")]),
        ],
        reasons=[Reason(tool="Oracle", text="cheap", evidence=[Evidence(quote="We use Oracle")])],
        migrations=[Migration(from_tool="Snowflake", to_tool="Oracle")],
    )
    grounded = ground_stack(stack, doc)
    assert [t.name for t in grounded.tools] == ["BigQuery"]
    assert grounded.tools[0].evidence[0].grounded
    assert grounded.reasons == [] and grounded.migrations == []
    assert grounded.provenance.dropped_items == 3


def test_strict_drops_items_without_a_located_quote() -> None:
    doc = Document(text=TEXT)
    stack = _stack([Tool(name="Node.js", canonical="Node.js",
                         evidence=[Evidence(quote="Node.js is our favourite runtime ever")])])
    assert ground_stack(stack, doc).tools[0].evidence[0].grounded is False
    assert ground_stack(stack, doc, strict=True).tools == []


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=300), st.data())
def test_any_substring_is_located_where_it_stands(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    quote = text[start:end]
    span = Grounder(text).locate(quote)
    if not quote.strip():
        assert span is None
        return
    assert span is not None
    assert text[span.start : span.end] == quote.strip()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=8), min_size=2, max_size=30),
       st.data())
def test_respaced_quotes_map_back_to_the_same_words(words: list[str], data: st.DataObject) -> None:
    text = "  ".join(words)
    i = data.draw(st.integers(0, len(words) - 2))
    j = data.draw(st.integers(i + 1, len(words)))
    quote = " ".join(words[i:j])
    span = Grounder(text).locate(quote)
    assert span is not None
    assert " ".join(text[span.start : span.end].split()) == quote
