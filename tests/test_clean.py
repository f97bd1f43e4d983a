"""The cleaning step: benchmark floor on fixture pages, metadata, code, structure, errors."""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from stackextract.errors import CleanError
from stackextract.evaluation.article_metric import evaluate, score_page, summarize, tokenize
from stackextract.sources.clean import CleanedPage, clean_html, decode_html

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BENCH = FIXTURES / "article-extraction"
MERCURIAL = FIXTURES / "html" / "X1_mercurial-python3-reflections-2020.html"

# Per-page F1 measured when the floors were set, minus a margin (about 0.03) for
# upstream trafilatura changes. Two known failures are held too (see the fixtures README).
PAGE_FLOORS = {
    "0ec95c7261d122f304728e90c983450ef1ce1e0b423546835c397d50aaf0d0f2": 0.95,  # 0.981
    "23aaecd14171f96cfd201a8a46666097e286ad71f74f29347a78c5ecba50da1e": 0.96,  # 0.992
    "2f42ef1d3ea0c96e56355d3db93d0e06b47e760b74f6f4261278b8cd1c246dd6": 0.58,  # 0.619
    "85439e26c41c75901820d01a13e8cea7836abb58635ea3986f71a163ab0311d3": 0.97,  # 1.000
    "ac3c035520461017a7c5b248d8e39ef063cad4c0c7d7b7ecd68aff8f15099485": 0.91,  # 0.940
    "b3c19dd5f0612d098788fa5173e491b3280da6226b492f8fe110f4ab1896cca8": 0.95,  # 0.986
    "c4a3637c6696f238cf9fe1c7fbb17bbb6731a71d4f5fe399b9b4fc3294a96a6b": 0.97,  # 1.000
    "d90bda7ed14df19574f4ca8b1ccde5752a78f40058af1393e81cc99adb3e8756": 0.72,  # 0.760
    "e372e42c0a3df7b86e1c0bacf7bc14d042144a01e88833bc5a643d61b3547090": 0.97,  # 1.000
    "f6ac15a4d98511396da23e4428deb5605422b1c8bbc8284e771f6896bdccf57f": 0.86,  # 0.895
    "fde930b01859de8311c6a14f8aa8c72be0659b551367803deb6736cf3526cf2e": 0.97,  # 1.000
}
SET_FLOOR = 0.92  # measured 0.940 over the 11 pages


@pytest.fixture(scope="module")
def bench_outputs() -> tuple[dict[str, str], dict[str, str]]:
    truth = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    refs = {k: v["articleBody"] for k, v in truth.items()}
    outs = {}
    for key in refs:
        with gzip.open(BENCH / "html" / f"{key}.html.gz", "rt", encoding="utf-8") as fh:
            outs[key] = clean_html(fh.read(), url=truth[key]["url"]).text
    return refs, outs


@pytest.fixture(scope="module")
def mercurial() -> CleanedPage:
    return clean_html(MERCURIAL.read_bytes())


# --- benchmark floor --------------------------------------------------------------------


def test_fixture_set_matches_floors(bench_outputs: tuple[dict[str, str], dict[str, str]]) -> None:
    refs, _ = bench_outputs
    assert set(refs) == set(PAGE_FLOORS)


@pytest.mark.parametrize("key", sorted(PAGE_FLOORS))
def test_fixture_page_holds_its_floor(
    key: str, bench_outputs: tuple[dict[str, str], dict[str, str]]
) -> None:
    refs, outs = bench_outputs
    assert score_page(refs[key], outs[key]).f1 >= PAGE_FLOORS[key]


def test_fixture_set_holds_its_floor(bench_outputs: tuple[dict[str, str], dict[str, str]]) -> None:
    refs, outs = bench_outputs
    assert evaluate(refs, outs).f1 >= SET_FLOOR


# --- the saved HTML page ------------------------------------------------------------------


def test_mercurial_metadata(mercurial: CleanedPage) -> None:
    assert mercurial.title == "Mercurial's Journey to and Reflections on Python 3"
    assert mercurial.author == "Gregory Szorc"
    assert mercurial.date == "2020-01-13"  # "January 13, 2020 at 08:45 AM" on the page
    assert mercurial.site_name == "Gregory Szorc's Digital Home"


def test_mercurial_text_is_the_article_only(mercurial: CleanedPage) -> None:
    text = mercurial.text
    assert text.startswith("Mercurial 5.2 was released on November 5, 2019.")
    assert "Rust is a compelling alternative to Python" in text
    assert text.rstrip().endswith("taking the time to do so.")
    for leak in (
        "Disqus",
        "View Comments",
        "View the discussion thread",
        "Copyright (c)",
        "Resume",
        "Categories",
    ):
        assert leak not in text


def test_mercurial_inline_code_is_backticked(mercurial: CleanedPage) -> None:
    assert "`from __future__ import print_function`" in mercurial.text
    assert "`import mercurial`" in mercurial.text


def test_mercurial_from_str_and_bytes_agree(mercurial: CleanedPage) -> None:
    assert clean_html(MERCURIAL.read_text(encoding="utf-8")) == mercurial


# --- code, lists, tables ------------------------------------------------------------------

FILLER = "This paragraph explains our choices at length so that it reads as article prose. " * 3
TECH_PAGE = f"""<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">
<title>Our stack in 2024 | Example Engineering</title>
<meta name="author" content="Ada Lovelace">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
<meta name="description" content="What we run and why.">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/jobs">Jobs</a></li></ul></nav>
<article><h1>Our stack in 2024</h1>
<p>We use <code>sqlalchemy.orm.Session</code> with Postgres. {FILLER}</p>
<pre><code class="language-python">from kafka import KafkaProducer
producer = KafkaProducer(bootstrap_servers="b:9092")
</code></pre>
<p>Deploys are one command. {FILLER}</p>
<pre>terraform apply</pre>
<ul><li>Redis for caching</li><li>Celery for jobs</li></ul>
<table><tr><th>Tool</th><th>Use</th></tr><tr><td>Grafana</td><td>dashboards</td></tr>
<tr><td>Sentry</td><td>errors</td></tr></table>
<p>That is all for now. {FILLER}</p></article>
<aside class="related-posts"><h3>Related posts</h3>
<ul><li><a href="/p/1">Why we love MongoDB</a></li><li><a href="/p/2">Moving to Svelte</a></li></ul>
</aside>
<div id="comments" class="comments"><h3>3 comments</h3>
<p>Great post! Have you tried Elixir?</p></div>
<footer><p>Cookie settings. Copyright 2024 Example Inc.</p></footer>
</body></html>"""


@pytest.fixture(scope="module")
def tech() -> CleanedPage:
    return clean_html(TECH_PAGE, url="https://eng.example.com/our-stack")


def test_code_blocks_are_fenced(tech: CleanedPage) -> None:
    lines = tech.text.splitlines()
    start = lines.index("```")
    assert lines[start + 1] == "from kafka import KafkaProducer"
    assert lines[start + 2] == 'producer = KafkaProducer(bootstrap_servers="b:9092")'
    assert lines[start + 3] == "```"
    # a bare <pre> is a command on a tech blog: fenced as well
    second = lines.index("```", start + 4)
    assert lines[second + 1 : second + 3] == ["terraform apply", "```"]


def test_inline_code_is_backticked(tech: CleanedPage) -> None:
    assert "We use `sqlalchemy.orm.Session` with Postgres." in tech.text


def test_lists_and_tables_keep_items_on_separate_lines(tech: CleanedPage) -> None:
    lines = tech.text.splitlines()
    assert "- Redis for caching" in lines
    assert "- Celery for jobs" in lines
    assert any(line.startswith("| Grafana | dashboards") for line in lines)
    assert any(line.startswith("| Sentry | errors") for line in lines)


def test_boilerplate_stays_out(tech: CleanedPage) -> None:
    for leak in ("Jobs", "Related posts", "MongoDB", "Svelte", "Elixir", "comments", "Cookie"):
        assert leak not in tech.text


def test_metadata_from_meta_tags(tech: CleanedPage) -> None:
    assert tech.title == "Our stack in 2024"
    assert tech.author == "Ada Lovelace"
    assert tech.date == "2024-03-05"
    assert tech.language == "en"
    assert tech.description == "What we run and why."
    assert tech.site_name == "Example Engineering"


def test_cleaned_page_is_frozen(tech: CleanedPage) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        tech.text = "x"  # type: ignore[misc]


# --- pages without an article ---------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   \n",
        b"",
        "<html><body></body></html>",
        '<html><head><title>App</title></head><body><nav><a href="/">Home</a> '
        '<a href="/about">About</a></nav><div id="root"></div>'
        "<script>render()</script></body></html>",
        '<html><body><div class="cookie-banner">We use cookies. Accept all?</div></body></html>',
    ],
)
def test_page_without_article_raises_clean_error(html: str | bytes) -> None:
    with pytest.raises(CleanError, match=r"^no article text found in https://x\.test/; ") as err:
        clean_html(html, url="https://x.test/")
    assert err.value.stage == "clean"
    assert err.value.url == "https://x.test/"


# --- decoding -------------------------------------------------------------------------------

LEGACY = (
    "<html><head>{meta}<title>Caf\u00e9 notes</title></head><body><article>"
    "<h1>Caf\u00e9 notes</h1><p>We picked \u201cPostgres\u201d for the caf\u00e9 \u2013 the "
    "na\u00efve choice was right. " + FILLER + "</p></article></body></html>"
)


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="windows-1252">',
        '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
    ],
)
def test_bytes_in_a_declared_legacy_charset(meta: str) -> None:
    data = LEGACY.format(meta=meta).encode("cp1252")
    page = clean_html(data)
    assert page.title == "Caf\u00e9 notes"
    expected = "We picked \u201cPostgres\u201d for the caf\u00e9 \u2013 the na\u00efve choice"
    assert expected in page.text


def test_undeclared_legacy_bytes_are_detected() -> None:
    html = LEGACY.format(meta="")
    assert "\u00e9" in decode_html(html.encode("cp1252"))


def test_utf8_bom_and_misdeclared_utf8() -> None:
    html = LEGACY.format(meta='<meta charset="iso-8859-1">')
    assert decode_html(codecs.BOM_UTF8 + html.encode("utf-8")) == html
    # bytes that are valid UTF-8 win over a stale single-byte declaration
    assert decode_html(html.encode("utf-8")) == html
    assert decode_html(b"<p>caf\xc3\xa9</p>") == "<p>caf\u00e9</p>"


# --- the scorer -----------------------------------------------------------------------------


def test_scorer_matches_the_published_definition() -> None:
    assert tokenize("Don't stop-me now") == ["Don", "t", "stop", "me", "now"]
    same = score_page("a b c d e", "a  b, c. d e")
    assert (same.precision, same.recall, same.exact) == (1.0, 1.0, True)
    # 5 tokens -> 2 shingles; prediction adds 1 surplus shingle: tp=2, fp=1 (normalised /3)
    extra = score_page("a b c d e", "a b c d e f")
    assert extra.precision == pytest.approx(2 / 3)
    assert extra.recall == 1.0
    short = score_page("a b", "a b")  # fewer than 4 tokens: one short shingle
    assert short.f1 == 1.0
    empty = score_page("a b c d", "")
    summary = summarize([same, empty])
    assert summary.precision == 1.0  # a page predicting nothing is left out of precision
    assert summary.recall == pytest.approx(0.5)
    assert summary.accuracy == pytest.approx(0.5)
