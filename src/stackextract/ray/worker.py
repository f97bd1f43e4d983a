"""The callable class `map_batches` runs in each Ray actor: one batch of sources in, one
table of result rows out.

The actor builds what is costly once (the extractor with its catalog, the HTTP client, the
model client, trafilatura's first page) and then works through each batch with asyncio:
fetches and model calls of up to `concurrency` documents at a time, cleaning and the
offline extractor in a thread of their own. Each document goes the way it goes in
`stackextract batch`: the same fetcher (SSRF guard, size limit, timeout, retries), the same
cleaning, extraction, grounding and filters, the same failure fields. Nothing here imports
Ray: the cluster-wide request gate comes in ready-made.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stackextract.batch.runner import warm_up
from stackextract.errors import ConfigError, InputError, tag_stage
from stackextract.extractors import get_extractor
from stackextract.models import Document, Stack
from stackextract.pipeline import DEFAULT_MIN_RELEVANCE, finish, process_document
from stackextract.ray import rows as R

# the keys a source row may have: one of these says what it is
SOURCE_KEYS = ("url", "path", "html", "text")


class SourceWorker:
    """fetch/read + clean + extract for the rows of one batch (a Ray Data callable class)."""

    def __init__(
        self,
        *,
        backend: str,
        settings: Mapping[str, Any],
        config_key: str,
        strict: bool = False,
        min_confidence: float,
        min_relevance: float = DEFAULT_MIN_RELEVANCE,
        allow_private: bool = False,
        fetch_options: Mapping[str, Any] | None = None,
        concurrency: int = 8,
        per_host: int = 2,
        done: R.Done | None = None,
        gate: Callable[[], Any] | None = None,
        max_bytes: int | None = None,
        robots: bool = True,
    ) -> None:
        from stackextract.sources.fetch import DEFAULT_USER_AGENT
        from stackextract.sources.load import default_max_bytes

        warm_up()
        self.extractor = get_extractor(backend, **dict(settings))
        self.local = getattr(self.extractor, "name", "") in ("offline", "heuristic")
        self.config_key = config_key
        self.strict = strict
        self.min_confidence = min_confidence
        self.min_relevance = min_relevance
        self.allow_private = allow_private
        self.fetch_options = dict(fetch_options or {})
        self.robots = robots
        self.user_agent = str(self.fetch_options.get("user_agent") or DEFAULT_USER_AGENT)
        self.fetch_options["user_agent"] = self.user_agent
        self.concurrency = concurrency
        self.per_host = per_host
        self.done = done or R.Done()
        self.max_bytes = max_bytes or default_max_bytes()
        if not self.local:
            prepare = getattr(self.extractor, "prepare", None)
            if callable(prepare):
                prepare(in_process=True)  # the model client, built once per actor
            limit = getattr(self.extractor, "limit_requests", None)
            if callable(limit):
                limit(concurrency)  # chunks of one actor's documents share its slots
            if gate is not None:
                bind = getattr(gate, "bind", None)
                if callable(bind):
                    bind()  # registers this process with the cap (frees a predecessor's leases)
                gate_requests = getattr(self.extractor, "gate_requests", None)
                if not callable(gate_requests):
                    raise ConfigError(
                        f"the {backend} backend cannot share a request cap (no gate_requests)"
                    )
                gate_requests(gate)
        self.catalog = getattr(self.extractor, "catalog", None)
        # cleaning and the offline extractor hold the GIL: one thread, next to the loop
        self.cpu = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="clean")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._client: Any = None
        self._sites: Any = None  # sources.robots.SiteRules of the current loop

    # -- the batch ---------------------------------------------------------------------

    async def __call__(self, batch: Any) -> Any:
        """A pyarrow table of sources -> a pyarrow table of result rows (R.COLUMNS)."""
        import pyarrow as pa

        self._bind_loop()
        items = batch.to_pylist() if hasattr(batch, "to_pylist") else list(batch)
        results = await asyncio.gather(*(self.process(item) for item in items))
        kept = [row for row in results if row is not None]
        return pa.Table.from_pylist(kept, schema=R.arrow_schema())

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # semaphores and the client belong to one loop
            self._loop = loop
            self._slots = asyncio.Semaphore(self.concurrency)
            self._hosts = defaultdict(lambda: asyncio.Semaphore(self.per_host))
            self._client = None
            from stackextract.sources.robots import SiteRules

            self._sites = SiteRules(self._robots_file, self.user_agent)

    async def process(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The result row of one source, or None when it is already done (skipped)."""
        self._bind_loop()
        assert self._slots is not None
        started = time.monotonic()
        try:
            key = source_key(item)
        except InputError as exc:
            return R.failed_row(_shown(item), exc, config_key=self.config_key)
        if key is not None and key in self.done.sources:
            return None
        async with self._slots:
            started = time.monotonic()
            try:
                if self.robots and key is not None and _fetched(item) and \
                        not await self.allowed(key):
                    return R.blocked_row(key, config_key=self.config_key,
                                         duration_s=time.monotonic() - started)
                doc = await self.load(item, key)
                key = key or _inline_key(item, doc)
                if key in self.done.sources:
                    return None
                if doc.content_sha256 in self.done.hashes:  # same text done: no model call
                    return R.duplicate_row(key, doc, config_key=self.config_key,
                                           duration_s=time.monotonic() - started)
                stack = await self.extract(doc)
            except Exception as exc:  # recorded like batch records it; the batch goes on
                return R.failed_row(key or _shown(item), exc, config_key=self.config_key,
                                    duration_s=time.monotonic() - started)
        return R.ok_row(key, doc, stack, config_key=self.config_key,
                        duration_s=time.monotonic() - started)

    # -- the steps (those of stackextract batch) ----------------------------------------

    async def load(self, item: Mapping[str, Any], key: str | None) -> Document:
        from stackextract.sources.load import (
            document_from_fetch,
            document_from_html,
            document_from_string,
            read_file,
        )

        problem = item.get("problem")
        if problem:  # a line of a URL list that is not a URL: recorded as batch records it
            raise InputError(str(problem))
        if item.get("url") and key is not None and item.get("html") is None:
            with tag_stage("fetch"):
                result = await self.fetch(key)
            with tag_stage("clean"):
                return await self.in_thread(document_from_fetch, result)
        if item.get("path"):
            with tag_stage("input"):
                return await self.in_thread(read_file, Path(key or item["path"]))
        content, is_html = (item["html"], True) if item.get("html") is not None else (
            item.get("text"), False)
        if content is None:
            raise InputError(f"a source row needs one of {', '.join(SOURCE_KEYS)}")
        size = len(content.encode("utf-8", errors="replace")) if isinstance(content, str) \
            else len(content)
        if size > self.max_bytes:
            raise InputError(
                f"inline {'html' if is_html else 'text'} of {size} bytes is over the limit of "
                f"{self.max_bytes} bytes (STACKEXTRACT_MAX_BYTES)"
            )
        url = item.get("url") or _http(item.get("source"))
        with tag_stage("clean"):
            if is_html:
                return await self.in_thread(lambda: document_from_html(content, url=url))
            return await self.in_thread(lambda: document_from_string(str(content), url=url))

    async def fetch(self, url: str) -> Any:
        from stackextract.sources.fetch import afetch

        async with self._hosts[urlsplit(url).netloc]:
            if self.robots:
                await self._sites.wait_turn(url)
            return await afetch(url, client=self.client(), allow_private=self.allow_private,
                                **self.fetch_options)

    async def allowed(self, url: str) -> bool:
        """robots.txt says yes for our user agent, as in `stackextract batch`: read once per
        site and actor through the same fetcher; an unreadable one (5xx, unreachable) keeps
        the site's pages out for now and fails them (stage robots), to be asked again."""
        with tag_stage("robots"):
            return bool(await self._sites.allowed(url))

    async def _robots_file(self, origin: str) -> Any:
        from stackextract.sources.robots import afetch_robots

        async with self._hosts[urlsplit(origin).netloc]:
            file = await afetch_robots(origin, client=self.client(),
                                       allow_private=self.allow_private, **self.fetch_options)
        return file.parsed()

    def client(self) -> Any:
        if self._client is None:
            from stackextract.sources.fetch import crawl_client

            self._client = crawl_client(self.concurrency)
        return self._client

    async def extract(self, doc: Document) -> Stack:
        with tag_stage("extract"):
            if self.local:
                return await self.in_thread(
                    process_document, doc, self.extractor, strict=self.strict,
                    min_confidence=self.min_confidence, min_relevance=self.min_relevance,
                )
            stack = await self.extractor.aextract(doc)
            with tag_stage("ground"):
                return finish(stack, doc, strict=self.strict,
                              min_confidence=self.min_confidence, catalog=self.catalog,
                              min_relevance=self.min_relevance)

    async def in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.cpu, lambda: fn(*args, **kwargs))


def source_key(item: Mapping[str, Any]) -> str | None:
    """The store key of a source row, as batch makes it (None: inline content without a
    `source`, keyed by its content hash once cleaned). Raises InputError for a bad URL."""
    from stackextract.sources.urls import normalize_url

    if item.get("problem"):
        return str(item.get("source") or item["problem"])
    source = item.get("source")
    if item.get("html") is not None or item.get("text") is not None:
        return str(source) if source else None
    if item.get("url"):
        return normalize_url(str(item["url"]))
    if item.get("path"):
        return str(Path(str(item["path"])).expanduser().resolve())
    if source and _http(source):
        return normalize_url(str(source))
    raise InputError(f"a source row needs one of {', '.join(SOURCE_KEYS)}")


def _fetched(item: Mapping[str, Any]) -> bool:
    """The row is a URL to fetch (not a file, nor inline content that names its URL)."""
    return bool(item.get("url")) and item.get("html") is None and item.get("text") is None \
        and not item.get("problem")


def _http(value: Any) -> str | None:
    text = str(value or "")
    return text if text.startswith(("http://", "https://")) else None


def _inline_key(item: Mapping[str, Any], doc: Document) -> str:
    return str(item.get("source") or doc.url or f"sha256:{doc.content_sha256}")


def _shown(item: Mapping[str, Any]) -> str:
    for name in ("source", "url", "path"):
        if item.get(name):
            return str(item[name])
    return "<inline>"
