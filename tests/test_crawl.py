"""Crawl-grade batches (issue 16): robots.txt, user agent, Crawl-delay, re-extraction from
the stored text, conditional requests, permanent failures. Real local servers, real files."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import sqlite3
import zlib
from pathlib import Path

import pytest

from batch_helpers import PageServer, page_html
from fetch_servers import FetchServer, page, status
from stackextract.batch.runner import run_batch
from stackextract.errors import FetchError
from stackextract.sources.fetch import DEFAULT_USER_AGENT, PROJECT_URL, afetch, fetch, user_agent
from stackextract.sources.robots import afetch_robots
from stackextract.store.database import Store

FAST = {"retries": 0, "timeout": 10.0}


def _run(sources: list, db: Path, **kw: object):
    kw.setdefault("backend", "offline")
    kw.setdefault("progress", False)
    kw.setdefault("stream", io.StringIO())
    kw.setdefault("fetch_options", dict(FAST))
    kw.setdefault("allow_private", True)
    kw.setdefault("workers", 1)
    return run_batch(sources, db=db, **kw)


def _listing(tmp_path: Path, urls: list[str]) -> Path:
    path = tmp_path / "urls.list"
    path.write_text("\n".join(urls) + "\n")
    return path


def _page_hits(server: PageServer) -> int:
    return sum(n for path, n in server.hits.items() if path != "/robots.txt")


# --- robots.txt ---------------------------------------------------------------------------


def test_robots_txt_is_fetched_once_obeyed_and_a_blocked_page_is_skipped(tmp_path: Path) -> None:
    robots = "User-agent: *\nDisallow: /page/1\nDisallow: /page/3\n"
    db = tmp_path / "s.db"
    with PageServer(robots=robots) as server:
        listing = _listing(tmp_path, [server.url(i) for i in range(6)])
        first = _run([listing], db, concurrency=4)
        assert server.hits["/robots.txt"] == 1  # once per site, not once per page
        assert server.hits["/page/1"] == 0 and server.hits["/page/3"] == 0
        assert (first.done, first.failed, first.blocked, first.skipped) == (4, 0, 2, 2)
        assert first.exit_code == 0  # kept out is not a failure
        assert "2 by robots.txt" in first.line()
        with Store(db) as store:
            assert store.failures() == []
            assert store.page(server.url(1))["outcome"] == "robots"
            (row,) = store.db["robots"].rows
            assert row["origin"] == server.base_url and "Disallow: /page/1" in row["body"]

        again = _run([listing], db, concurrency=4)  # stored robots.txt, stored pages
        assert server.hits["/robots.txt"] == 1 and _page_hits(server) == 4
        assert (again.cached, again.blocked, again.failed) == (4, 2, 0)

        server.robots = "User-agent: *\nDisallow: /page/3\n"  # the site changes its mind
        retried = _run([], db, retry_failed=True)  # asks robots.txt again, and the pages
        assert server.hits["/robots.txt"] == 2
        assert (retried.total, retried.done, retried.blocked) == (2, 1, 1)
        assert server.hits["/page/1"] == 1 and server.hits["/page/3"] == 0

        ignored = _run([listing], db, robots=False)
        assert ignored.done == 1 and server.hits["/page/3"] == 1
        assert server.hits["/robots.txt"] == 2


def test_robots_rules_are_those_of_our_user_agent(tmp_path: Path) -> None:
    robots = "User-agent: stackextract\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    with PageServer(robots=robots) as server:
        listing = _listing(tmp_path, [server.url(0), server.url(1)])
        ours = _run([listing], tmp_path / "a.db")
        assert ours.blocked == 2 and _page_hits(server) == 0
        assert all(agent == DEFAULT_USER_AGENT for agent in server.agents)
        other = _run([listing], tmp_path / "b.db",
                     fetch_options={**FAST, "user_agent": "otherbot/2.0 (+https://x.example)"})
        assert other.done == 2 and other.blocked == 0
        assert server.agents[-1] == "otherbot/2.0 (+https://x.example)"


def test_default_user_agent_names_the_project_and_takes_a_contact() -> None:
    assert DEFAULT_USER_AGENT.startswith("stackextract/") and PROJECT_URL in DEFAULT_USER_AGENT
    assert user_agent(None) == DEFAULT_USER_AGENT
    with_contact = user_agent("crawl-admin@example.org")
    assert PROJECT_URL in with_contact and "contact: crawl-admin@example.org" in with_contact


def test_crawl_delay_spaces_requests_to_a_site(tmp_path: Path) -> None:
    robots = "User-agent: *\nCrawl-delay: 0.4\n"
    with PageServer(robots=robots) as server:
        listing = _listing(tmp_path, [server.url(i) for i in range(4)])
        summary = _run([listing], tmp_path / "s.db", concurrency=4, per_host=2)
        assert summary.done == 4
        starts = sorted(t for path, times in server.times.items() if path.startswith("/page/")
                        for t in times)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3 and min(gaps) >= 0.35, gaps


def test_robots_txt_goes_through_the_ssrf_guard() -> None:
    with PageServer(robots="User-agent: *\nDisallow: /\n") as server:
        with pytest.raises(FetchError, match="loopback"):
            asyncio.run(afetch_robots(server.base_url, client=None, retries=0))
        assert server.hits["/robots.txt"] == 0


def test_unreachable_robots_txt_fails_the_page_for_now(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with PageServer() as server:
        server.broken.add("/robots.txt")  # 503: the site cannot say, so nothing is fetched
        listing = _listing(tmp_path, [server.url(0)])
        first = _run([listing], db)
        assert first.failed == 1 and server.hits["/page/0"] == 0
        with Store(db) as store:
            (failure,) = store.failures()
        assert "robots.txt" in failure["message"] and failure["stage"] == "fetch"
        server.broken.clear()
        again = _run([listing], db)  # transient: asked again on a plain re-run
        assert again.done == 1 and server.hits["/page/0"] == 1


# --- re-extraction without re-fetching -----------------------------------------------------


def test_force_and_changed_settings_re_extract_with_zero_fetches(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    n = 4
    with PageServer() as server:
        listing = _listing(tmp_path, [server.url(i) for i in range(n)])
        first = _run([listing], db)
        assert first.done == n and first.fetches == n + 1  # the pages and robots.txt
        hits = sum(server.hits.values())

        forced = _run([listing], db, force=True)
        assert (forced.done, forced.fetches) == (n, 0)
        changed = _run([listing], db, min_confidence=0.7)
        assert (changed.done, changed.fetches) == (n, 0)
        strict = _run([listing], db, strict=True)
        assert (strict.done, strict.fetches) == (n, 0)
        again = _run([listing], db, strict=True)
        assert (again.cached, again.done) == (n, 0)
        assert sum(server.hits.values()) == hits  # the server saw nothing more
    with Store(db) as store:
        assert store.counts()["documents"] == n
        assert store.counts()["extractions"] == 3 * n


def test_reextract_runs_on_the_stored_text_only(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with PageServer() as server:
        listing = _listing(tmp_path, [server.url(i) for i in range(3)])
        _run([listing], db)
        hits = sum(server.hits.values())
        summary = _run([], db, reextract=True, min_confidence=0.8)
        assert (summary.total, summary.done, summary.fetches) == (3, 3, 0)
        assert sum(server.hits.values()) == hits
        cached = _run([], db, reextract=True, min_confidence=0.8)
        assert (cached.cached, cached.done) == (3, 0)


def test_refetch_asks_conditionally_and_keep_raw_stores_the_page(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with PageServer() as server:
        listing = _listing(tmp_path, [server.url(0), server.url(1)])
        _run([listing], db, keep_raw=True)
        with Store(db) as store:
            page = store.page(server.url(1))
            assert page["raw"] == page_html(1) and page["etag"] == '"v1-/page/1"'
            assert page["raw_bytes"] == len(page_html(1))
            packed = store.db.execute(
                "SELECT raw FROM pages WHERE source = ?", [server.url(1)]).fetchone()[0]
            assert zlib.decompress(packed) == page_html(1) and len(packed) < len(page_html(1))
        checked = _run([listing], db, refetch=True)  # unchanged (304): nothing to extract
        assert checked.fetches == 2 and server.not_modified == 2
        assert (checked.cached, checked.done) == (2, 0)
        refetched = _run([listing], db, refetch=True, force=True)
        assert refetched.fetches == 2 and server.not_modified == 4
        assert refetched.done == 2
        with Store(db) as store:
            page = store.page(server.url(1))
            assert page["outcome"] == "not-modified" and page["raw"] == page_html(1)
            assert store.counts()["documents"] == 2


def test_permanent_failures_are_not_fetched_again_unless_retried(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with PageServer() as server:
        server.gone.add("/page/9")
        listing = _listing(tmp_path, [server.url(0), f"{server.base_url}/missing",
                                      server.url(9), f"{server.base_url}/error"])
        first = _run([listing], db)
        assert (first.done, first.failed) == (1, 3)
        again = _run([listing], db)
        assert (again.cached, again.failed) == (1, 3)
        assert server.hits["/missing"] == 1 and server.hits["/page/9"] == 1  # 404, 410: once
        assert server.hits["/error"] == 2  # a 500 may pass: asked again
        retry = _run([], db, retry_failed=True)
        assert retry.failed == 3
        assert server.hits["/missing"] == 2 and server.hits["/page/9"] == 2
    conn = sqlite3.connect(db)
    statuses = dict(conn.execute("SELECT source, status_code FROM pages").fetchall())
    conn.close()
    assert statuses[f"{server.base_url}/missing"] == 404 and statuses[server.url(9)] == 410


def _conditional(h) -> None:
    if h.headers.get("If-None-Match") == '"abc"' or h.headers.get("If-Modified-Since"):
        page(b"", content_type="text/html", status=304, headers=[("ETag", '"abc"')])(h)
    else:
        page(headers=[("ETag", '"abc"')])(h)


def test_fetch_sends_conditional_headers_and_returns_a_304() -> None:
    with FetchServer({"/c": _conditional, "/404": status(404)}) as server:
        fresh = fetch(server.url("/c"), allow_private=True)
        assert fresh.status_code == 200 and fresh.headers["etag"] == '"abc"'
        same = fetch(server.url("/c"), allow_private=True, headers={"If-None-Match": '"abc"'})
        assert (same.status_code, same.body) == (304, b"")
        later = asyncio.run(afetch(server.url("/c"), allow_private=True,
                                   headers={"If-Modified-Since": "Mon, 01 Jun 2026 10:00:00 GMT"}))
        assert later.status_code == 304
        assert server.request_headers[1]["if-none-match"] == '"abc"'
        with pytest.raises(FetchError) as info:
            fetch(server.url("/404"), allow_private=True, retries=0)
        assert info.value.status_code == 404


def test_a_crawl_over_many_sites_reuses_its_connections(tmp_path: Path) -> None:
    """50 sites (loopback addresses), 4 pages each, 64 fetches at a time and 2 per site: each
    site's pages come over its own few kept-alive connections, not one new connection a
    request (what httpcore did with fewer idle connections allowed than connections)."""
    with contextlib.ExitStack() as stack:
        sites = [stack.enter_context(PageServer(host=f"127.0.0.{i}")) for i in range(2, 52)]
        urls = [site.url(i) for i in range(4) for site in sites]
        summary = _run(urls, tmp_path / "s.db", concurrency=64, per_host=2)
    assert summary.failed == 0 and summary.done + summary.cached == len(urls), summary
    requests = sum(sum(site.hits.values()) for site in sites)  # robots.txt and the pages
    connections = sum(site.connections for site in sites)
    assert requests == len(urls) + len(sites)
    assert connections <= 3 * len(sites), f"{connections} connections for {requests} requests"
