"""Batch runs over many sources: concurrent, resumable, cached, one SQLite writer.

asyncio drives fetching (bounded overall and per host) and model calls; cleaning and the
offline extractor run in a process pool (trafilatura is CPU-bound and holds the GIL), so
both cores work. Every finished document is committed in its own transaction by a single
writer thread, so a killed run loses at most the documents in flight and a re-run resumes.

Sources: URLs, local files (.html .htm .md .mdx .markdown .txt, each also gzipped: .html.gz),
directories (searched recursively for those suffixes, hidden entries skipped) and URL-list
files. A file is a URL list when its suffix is .urls or .list, or when it is a .txt file
whose first non-blank, non-`#` line is an http(s) URL; its invalid lines are recorded as
failures (stage "input").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

from stackextract.batch.shards import ShardPool, exit_with_parent
from stackextract.errors import (
    ConfigError,
    ExtractionError,
    InputError,
    StoreError,
    failure_fields,
    one_line,
    tag_stage,
)
from stackextract.models import Document, Stack
from stackextract.pipeline import finish
from stackextract.store.database import Store

DOCUMENT_SUFFIXES = (".html", ".htm", ".md", ".mdx", ".markdown", ".txt")
# what a directory walk picks up: those, and the same gzipped (saved pages, crawl dumps)
WALKED_SUFFIXES = DOCUMENT_SUFFIXES + tuple(suffix + ".gz" for suffix in DOCUMENT_SUFFIXES)
URL_LIST_SUFFIXES = (".urls", ".list")
URL_SNIFF_BYTES = 65536
LOG_EVERY_S = 10.0
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


# --- results ------------------------------------------------------------------------------


@dataclass
class BatchSummary:
    """What a batch did. `model_calls` counts documents sent to the extractor (0 on a re-run)."""

    total: int = 0
    done: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    model_calls: int = 0
    requests: int = 0
    interrupted: bool = False
    backend: str = ""
    config_key: str = ""
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.interrupted

    @property
    def exit_code(self) -> int:
        """0 when everything is stored, 1 when anything failed, 130 after Ctrl-C."""
        if self.interrupted:
            return 130
        return 0 if self.failed == 0 else 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """One human line, e.g. for the end of the CLI output."""
        rate = (self.done + self.cached) / self.duration_s if self.duration_s else 0.0
        text = (
            f"{self.total} sources: {self.done} extracted, {self.cached} cached, "
            f"{self.failed} failed, {self.skipped} skipped in {self.duration_s:.1f}s "
            f"({rate:.1f}/s, {self.model_calls} extractor calls, backend {self.backend})"
        )
        return text + (" - interrupted; run again to resume" if self.interrupted else "")


@dataclass(frozen=True)
class Job:
    """One source to process: `key` is how it is cached and stored (normalised URL or path)."""

    key: str
    kind: Literal["url", "file"]


@dataclass(frozen=True)
class InputProblem:
    """A line or path that cannot become a Job; it is recorded as a failure."""

    key: str
    message: str


# --- sources ------------------------------------------------------------------------------


def _is_url_list(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in URL_LIST_SUFFIXES:
        return True
    if suffix != ".txt":
        return False
    from stackextract.sources.urls import is_http_url

    try:  # the head only: a file with no newline would otherwise come into memory whole
        with path.open("rb") as fp:
            head = fp.read(URL_SNIFF_BYTES).decode("utf-8-sig", errors="replace")
    except OSError:
        return False  # read_file reports why it cannot be read
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    first = next((line for line in lines if not line.startswith("#")), None)
    if first is None:  # only comments: an empty URL list, not a writeup (empty: read_file)
        return bool(lines)
    return is_http_url(first)


def _walk(directory: Path, problems: list[InputProblem]) -> Iterator[Path]:
    def unreadable(exc: OSError) -> None:  # os.walk would skip it without a word
        problems.append(InputProblem(
            str(exc.filename),
            f"cannot list directory {exc.filename}: {exc.strerror}; its files were skipped",
        ))

    for root, dirs, files in os.walk(directory, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(WALKED_SUFFIXES):
                yield Path(root) / name


def expand_sources(sources: Sequence[str | Path]) -> tuple[list[Job], list[InputProblem]]:
    """Jobs for URLs, files, directories and URL lists, deduplicated, in the order given.

    Raises InputError for a path that does not exist, a directory with no documents, or a
    URL list without any URL: those are mistakes in the command, not in the data.
    """
    from stackextract.sources.urls import normalize_url, parse_url_list

    jobs: list[Job] = []
    problems: list[InputProblem] = []
    seen: set[str] = set()

    def add(job: Job) -> None:
        if job.key not in seen:
            seen.add(job.key)
            jobs.append(job)

    def add_file(path: Path) -> None:
        if not path.is_file():  # FIFO, socket, device, broken link: opening it could block,
            add(Job(str(path.resolve()), "file"))  # so read_file refuses it unopened
            return
        if _is_url_list(path):
            try:
                text = path.read_text(encoding="utf-8-sig", errors="replace")
            except OSError as exc:
                raise InputError(f"cannot read URL list {path}: {exc.strerror}") from exc
            try:
                parsed = parse_url_list(text)
            except InputError as exc:
                raise InputError(f"{path}: {exc}") from exc
            for url in parsed.urls:
                add(Job(url, "url"))
            for number, line in parsed.invalid:
                if line not in seen:
                    seen.add(line)
                    problems.append(
                        InputProblem(line, f"{path}:{number}: not an http(s) URL: {line[:80]!r}")
                    )
        else:
            add(Job(str(path.resolve()), "file"))

    for raw in sources:
        text = str(raw).strip()
        if not isinstance(raw, Path) and _URL_RE.match(text):
            try:
                add(Job(normalize_url(text), "url"))
            except InputError as exc:
                problems.append(InputProblem(text, str(exc)))
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            walk_problems: list[InputProblem] = []
            found = list(_walk(path, walk_problems))
            problems.extend(walk_problems)
            if not found and not walk_problems:
                raise InputError(
                    f"no {'/'.join(DOCUMENT_SUFFIXES)} files (or .gz of them) under {path}; "
                    "check the directory"
                )
            for item in found:
                add_file(item)
        elif path.is_file():
            add_file(path)
        else:
            raise InputError(
                f"no such file or directory: {text} (for a web page give the full https:// URL)"
            )
    return jobs, problems


def jobs_from_keys(keys: Sequence[str]) -> tuple[list[Job], list[InputProblem]]:
    """Jobs for stored source keys (e.g. the failures table): URLs, or paths that still exist."""
    from stackextract.sources.urls import is_http_url

    jobs, problems = [], []
    for key in keys:
        if is_http_url(key):
            jobs.append(Job(key, "url"))
        elif Path(key).is_file():
            jobs.append(Job(key, "file"))
        else:
            problems.append(InputProblem(key, f"not a URL or an existing file: {key[:80]!r}"))
    return jobs, problems


# --- work done in the process pool ----------------------------------------------------------

_worker_extractor: Any = None
_worker_spec: tuple[str, dict[str, Any]] | None = None


# A small article for the workers' warm-up: long enough that the cleaner keeps it.
_WARM_PAGE = (
    "<html><head><title>Warm-up</title></head><body><article><h1>Our stack</h1>"
    + "<p>We run our backend on Python with Django and keep our data in PostgreSQL. Redis "
    "holds sessions, Celery runs background jobs and the frontend is React.</p>" * 3
    + "</article></body></html>"
)


def _init_worker(spec: tuple[str, dict[str, Any]] | None, parent: int) -> None:
    """Pool initializer: Ctrl-C is for the parent; remember how to build the extractor.

    A watchdog ends the worker when the parent dies (SIGKILL): orphans would otherwise wait
    forever on the task queue and hold the parent's stdout open. The cleaner is warmed here
    unless the worker was forked from a warm parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_spec
    if spec is not None:
        _worker_spec = spec
    exit_with_parent(parent)
    warm_up()  # a no-op when forked from a warm parent


@functools.cache
def warm_up() -> None:
    """Clean one small page, once per process: trafilatura sets itself up on its first page
    (~0.2 s). The batch does it before forking its workers, so they start warm and share it;
    a long-running program can call it at start-up."""
    from stackextract.sources.load import document_from_html

    # a host with a port: courlan reads the public-suffix list (~50 ms) on the first URL its
    # quick pattern does not parse (a port, an odd host), which would otherwise be a real page's
    with contextlib.suppress(Exception):  # a warm-up only: real pages report their own errors
        document_from_html(_WARM_PAGE, url="http://localhost:8080/warm-up")


def _warm(_: int = 0) -> int:
    return os.getpid()


def _extractor_in_worker() -> Any:
    global _worker_extractor
    if _worker_extractor is None:
        if _worker_spec is None:  # pragma: no cover - set by the initializer
            raise RuntimeError("worker has no extractor settings")
        backend, settings = _worker_spec
        _worker_extractor = _make_extractor(backend, settings)
    return _worker_extractor


def _doc_from_fetch(result: Any) -> Document:
    from stackextract.sources.load import document_from_fetch

    return document_from_fetch(result)


def _doc_from_path(path: str) -> Document:
    from stackextract.sources.load import read_file

    return read_file(Path(path))


def _extract_offline(doc: Document, strict: bool, min_confidence: float) -> Stack:
    """Extract and ground in a worker process (the extractor is built once per worker)."""
    from stackextract.pipeline import process_document

    return process_document(
        doc, _extractor_in_worker(), strict=strict, min_confidence=min_confidence
    )


def _make_extractor(backend: str, settings: Mapping[str, Any]) -> Any:
    from stackextract.extractors import get_extractor

    return get_extractor(backend, **dict(settings))


def batch_config_key(extractor: Any, *, strict: bool, min_confidence: float) -> str:
    """The extractor's cache key, plus the output filters when they are not the defaults."""
    from stackextract.pipeline import DEFAULT_MIN_CONFIDENCE

    key = str(extractor.config_key())
    if strict or min_confidence != DEFAULT_MIN_CONFIDENCE:
        key += f"-strict{int(strict)}-min{min_confidence:g}"
    return key


def _runs_locally(extractor: Any) -> bool:
    """True for CPU-bound extractors (offline) that belong in the process pool."""
    return getattr(extractor, "name", "") in ("offline", "heuristic")


def _pool(workers: int, spec: tuple[str, dict[str, Any]] | None) -> concurrent.futures.Executor:
    """A process pool started now, before threads exist (fork is only safe then)."""
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and not _fork_unsafe() else "spawn"
    if method == "fork":
        warm_up()  # once, here, instead of once in every worker
        # objects the children inherit stay shared: without this, the collector touching them
        # in a child copies their pages (copy-on-write) and the workers grow over a long run
        # (no gc.collect() first: on a heap holding openai's types it costs ~0.1 s a run)
        gc.freeze()
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(spec, os.getpid()),
    )
    # start every worker now (fork copies the parent, including its loaded catalog); the
    # parent does not wait for their warm-up: real work queues behind it
    for _ in range(workers):
        pool.submit(_warm)
    return pool


_thread_state = threading.local()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _fork_unsafe() -> bool:
    """True inside a running loop or an arun_batch thread: other threads may hold locks that
    a forked child would inherit locked."""
    return _loop_running() or getattr(_thread_state, "no_fork", False)


# --- progress -----------------------------------------------------------------------------


class _Progress:
    """A rich bar on a terminal; otherwise a plain line every LOG_EVERY_S seconds."""

    def __init__(self, summary: BatchSummary, enabled: bool | None, stream: TextIO) -> None:
        self.summary = summary
        self.stream = stream
        self.started = time.monotonic()
        self.last_log = self.started
        self.bar: Any = None
        self.task: Any = None
        if enabled is None:
            enabled = stream.isatty()
        self.fancy = enabled
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=False,
            )

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("batch", total=self.summary.total, status="", rate="")
        return self

    def _counts(self) -> tuple[int, str, str]:
        s = self.summary
        finished = s.done + s.cached + s.failed
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = finished / elapsed
        status = f"done {s.done} cached {s.cached} failed {s.failed}"
        return finished, status, f"{rate:.1f} docs/s"

    def update(self, *, force: bool = False) -> None:
        finished, status, rate = self._counts()
        if self.bar is not None:
            self.bar.update(self.task, completed=finished, status=status, rate=rate)
            return
        now = time.monotonic()
        if not force and now - self.last_log < LOG_EVERY_S:
            return
        self.last_log = now
        total = self.summary.total
        left = total - finished
        per_s = finished / max(now - self.started, 1e-9)
        eta = f", ETA {_duration(left / per_s)}" if per_s > 0 and left > 0 else ""
        print(f"batch: {finished}/{total} ({status}), {rate}{eta}", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        if self.bar is not None:
            self.bar.console.print(message)
        else:
            print(message, file=self.stream, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.update()
            self.bar.stop()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


# --- the run ------------------------------------------------------------------------------


class _Run:
    """State of one batch run inside the event loop."""

    def __init__(
        self,
        *,
        store: Store,
        jobs: list[Job],
        problems: list[InputProblem],
        extractor: Any,
        config_key: str,
        pool: concurrent.futures.Executor,
        concurrency: int,
        per_host: int,
        force: bool,
        strict: bool,
        min_confidence: float,
        allow_private: bool,
        fetch_options: Mapping[str, Any],
        summary: BatchSummary,
        progress: _Progress,
        shards: ShardPool | None = None,
    ) -> None:
        self.store = store
        self.shards = shards
        self.jobs = jobs
        self.problems = problems
        self.extractor = extractor
        self.local = _runs_locally(extractor)
        self.ground = _grounding(extractor, strict=strict, min_confidence=min_confidence)
        self.config_key = config_key
        self.pool = pool
        self.concurrency = concurrency
        self.force = force
        self.strict = strict
        self.min_confidence = min_confidence
        self.allow_private = allow_private
        self.fetch_options = dict(fetch_options)
        self.summary = summary
        self.progress = progress
        self.host_limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )
        self.stop = asyncio.Event()
        self.queue: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue(
            maxsize=max(2 * concurrency, 4)
        )
        # cleaned documents waiting for an extractor: bounded, so memory does not grow with N
        self.ready: asyncio.Queue[tuple[Job, Document] | None] = asyncio.Queue(maxsize=concurrency)
        # one thread owns every database call: SQLite sees a single writer
        self.db_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store")
        self.store_error: StoreError | None = None
        self.fatal: BaseException | None = None
        self.abandoned = False
        self.next_job = 0

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self.store.owns_connection:
            return await loop.run_in_executor(self.db_thread, lambda: fn(*args, **kwargs))
        return fn(*args, **kwargs)  # a caller's connection may be bound to this thread

    async def in_pool(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def run(self) -> None:
        """Loaders (fetch + clean) run ahead of extractors through a bounded queue, so model
        slots never wait for a page; the writer commits results one document at a time."""
        if self.shards is not None:
            self.shards.start()
        writer = asyncio.create_task(self.writer())
        for problem in self.problems:
            await self.queue.put(("fail", problem.key, "input", "InputError", problem.message, 1))
        client = self._client()
        try:
            loaders = [asyncio.create_task(self.loader(client)) for _ in range(self.concurrency)]
            # model-call processes cap their own requests, so they can hold a second document
            # per request slot: it starts the moment a request ends, without a round trip here
            holders = self.concurrency * (2 if self.shards is not None else 1)
            extractors = [asyncio.create_task(self.extract_loop()) for _ in range(holders)]
            self.workers = [*loaders, *extractors]
            await asyncio.gather(*loaders, return_exceptions=True)
            # an end marker for every extractor still running; never block on a full queue
            # (an extractor may already be cancelled by a second Ctrl-C): top it up whenever
            # one ends, until all have
            running: set[asyncio.Task[None]] = set(extractors)
            while running:
                with contextlib.suppress(asyncio.QueueFull):
                    for _ in running:
                        self.ready.put_nowait(None)
                _, running = await asyncio.wait(running, timeout=0.05)
            await asyncio.gather(*extractors, return_exceptions=True)
        finally:
            if client is not None:
                await client.aclose()
            await self.queue.put(None)
            await writer
            self.db_thread.shutdown(wait=True)
        s = self.summary
        s.skipped = max(0, s.total - s.done - s.cached - s.failed)
        if self.store_error is not None:  # say how far the run got: the summary is not printed
            stored = f"{s.done + s.cached} of {s.total} sources are stored"
            raise StoreError(f"{self.store_error} ({stored})") from self.store_error
        if self.fatal is not None:
            reason = one_line(str(self.fatal) or type(self.fatal).__name__, limit=300)
            raise ExtractionError(
                f"{reason}; every finished document is stored, run the same batch again to resume"
            ) from self.fatal

    def _client(self) -> Any:
        if not any(job.kind == "url" for job in self.jobs):
            return None
        import httpx

        from stackextract.sources.fetch import new_async_client

        limits = httpx.Limits(max_connections=self.concurrency * 2, max_keepalive_connections=32)
        return new_async_client(limits=limits)

    async def loader(self, client: Any) -> None:
        while not self.stop.is_set() and self.next_job < len(self.jobs):
            job = self.jobs[self.next_job]
            self.next_job += 1
            doc = await self.guard(job, self.load(job, client))
            if doc is not None:
                await self.ready.put((job, doc))

    async def extract_loop(self) -> None:
        while True:
            item = await self.ready.get()
            if item is None:
                return
            if self.stop.is_set():
                continue  # Ctrl-C: pages not yet sent to the extractor are left for a re-run
            job, doc = item
            await self.guard(job, self.extract(job, doc))

    async def guard(self, job: Job, step: Any) -> Any:
        """Run one step for a job; a failure is recorded and the batch goes on."""
        try:
            return await step
        except asyncio.CancelledError:
            raise
        except concurrent.futures.process.BrokenProcessPool as exc:
            # a worker died (killed, out of memory): nothing more can be cleaned or extracted
            self.fatal = exc if str(exc) else type(exc)("a worker process exited unexpectedly")
            self.stop.set()
        except Exception as exc:  # ours, or any other bug or library error: record it, go on
            await self.queue.put(("fail", job.key, *failure_fields(exc)))
        return None

    async def load(self, job: Job, client: Any) -> Document | None:
        """Fetch and clean (or read) one source; None when its text is already stored."""
        with tag_stage("fetch" if job.kind == "url" else "input"):
            if job.kind == "url":
                result = await self._fetch(job.key, client)
                with tag_stage("clean"):
                    doc: Document = await self.in_pool(_doc_from_fetch, result)
            else:
                doc = await self.in_pool(_doc_from_path, job.key)
        if not self.force:
            with tag_stage("cache"):
                hit = await self.db(
                    self.store.cached, doc.content_sha256, config_key=self.config_key
                )
            if hit is not None:  # same text under another source: reuse, no model call
                stack = hit.model_copy(update={"source": doc.to_source()})
                await self.queue.put(("save", job.key, doc, stack, True))
                return None
        return doc

    async def extract(self, job: Job, doc: Document) -> None:
        self.summary.model_calls += 1
        with tag_stage("extract"):
            if self.local:
                stack = await self.in_pool(_extract_offline, doc, self.strict, self.min_confidence)
            elif self.shards is not None:  # extracted and grounded in a model-call process
                stack = await self.shards.extract(doc)
            else:
                stack = await self.extractor.aextract(doc)
                with tag_stage("ground"):
                    # grounding a model's answer takes well under a millisecond a document:
                    # cheaper here than a round trip to the pool
                    stack = self.ground(stack, doc)
        self.summary.requests += stack.provenance.usage.requests
        await self.queue.put(("save", job.key, doc, stack, False))

    async def _fetch(self, url: str, client: Any) -> Any:
        from stackextract.sources.fetch import afetch

        host = urlsplit(url).netloc
        async with self.host_limits[host]:
            return await afetch(
                url, client=client, allow_private=self.allow_private, **self.fetch_options
            )

    async def writer(self) -> None:
        """The single writer: one transaction per document, failures as they come."""
        while True:
            item = await self.queue.get()
            if item is None:
                return
            if self.store_error is not None:
                continue  # drain: nothing more can be written
            try:
                if item[0] == "save":
                    _, key, doc, stack, was_cached = item
                    await self.db(
                        self.store.save,
                        doc,
                        stack,
                        config_key=self.config_key,
                        source=key,
                        replace=self.force,
                    )
                    if was_cached:
                        self.summary.cached += 1
                    else:
                        self.summary.done += 1
                else:
                    _, key, stage, kind, message, attempts = item
                    await self.db(
                        self.store.record_failure,
                        key,
                        stage=stage,
                        error_type=kind,
                        message=message,
                        attempts=attempts,
                    )
                    self.summary.failed += 1
                    if len(self.summary.failures) < 1000:
                        self.summary.failures.append(
                            {"source": key, "stage": stage, "error_type": kind, "message": message}
                        )
            except StoreError as exc:
                self.store_error = exc
                self.stop.set()
            self.progress.update()

    def interrupt(self) -> None:
        """First Ctrl-C: take no new work; second: abandon the documents in flight."""
        if not self.stop.is_set():
            self.stop.set()
            self.summary.interrupted = True
            self.progress.note(
                "stopping: finishing the documents in flight (Ctrl-C again to abandon them)"
            )
        else:
            self.abandoned = True
            for task in getattr(self, "workers", []):
                task.cancel()


def run_batch(
    sources: Sequence[str | Path],
    *,
    db: str | Path | Store,
    backend: str = "auto",
    concurrency: int = 8,
    per_host: int = 2,
    retry_failed: bool = False,
    force: bool = False,
    limit: int | None = None,
    allow_private: bool = False,
    progress: bool | None = None,
    prefix: str = "",
    strict: bool = False,
    min_confidence: float | None = None,
    workers: int | None = None,
    model_processes: int | None = None,
    fetch_options: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
    extractor: Any = None,
    **extractor_settings: Any,
) -> BatchSummary:
    """Extract every source into `db`; skip what is already stored; record what fails.

    Returns a BatchSummary (use `.exit_code` for a CLI). Raises InputError for a bad
    command (missing path, empty list), ConfigError for bad extractor settings and
    StoreError when the database cannot be written (nothing else stops the run).
    `progress`: True for a rich bar, False for plain log lines, None for a bar on a terminal.
    `extractor`: an Extractor to use instead of building one from `backend` and the settings.
    `workers`: processes for cleaning and offline extraction (default: one per core).
    `model_processes`: processes making a remote backend's model calls (default: one per core,
    on Linux; 0 keeps them in this process, as it is for an `extractor` passed in).
    """
    if concurrency < 1 or per_host < 1:
        raise InputError("concurrency and per_host must be at least 1")
    if _loop_running():
        raise ConfigError(
            "run_batch was called inside a running event loop; use `await arun_batch(...)`"
        )
    started = time.monotonic()
    out = stream if stream is not None else sys.stderr
    store = db if isinstance(db, Store) else Store(db, prefix=prefix)
    try:
        if retry_failed:
            failed = store.failed_sources()
            if sources:
                wanted, _ = expand_sources(sources)
                keys = {job.key for job in wanted}
                failed = [key for key in failed if key in keys]
            jobs, problems = jobs_from_keys(failed)
        else:
            jobs, problems = expand_sources(sources)
        if limit is not None:
            jobs = jobs[: max(0, limit)]
        own_extractor = extractor is None
        if extractor is None:
            extractor = _make_extractor(backend, extractor_settings)
        if min_confidence is None:
            from stackextract.pipeline import DEFAULT_MIN_CONFIDENCE

            min_confidence = DEFAULT_MIN_CONFIDENCE
        config_key = batch_config_key(extractor, strict=strict, min_confidence=min_confidence)
        summary = BatchSummary(
            total=len(jobs) + len(problems),
            backend=getattr(extractor, "name", backend),
            config_key=config_key,
        )
        if not force:  # sources already stored under this configuration: no fetch, no model
            keys = {job.key for job in jobs}
            stored = {key for key in store.cached_sources(config_key) if key in keys}
            if stored:
                jobs = [job for job in jobs if job.key not in stored]
                summary.cached = len(stored)
            del keys, stored
        if not jobs and not problems:
            summary.duration_s = time.monotonic() - started
            return summary
        n_workers = workers or os.cpu_count() or 1
        local = _runs_locally(extractor)
        spec = (backend, dict(extractor_settings)) if local else None
        global _worker_extractor
        # forked workers inherit the parent's extractor instead of building their own
        _worker_extractor = extractor if local else None
        shards = None
        if not local and own_extractor:
            shards = _shard_pool(
                extractor,
                model_processes,
                strict=strict,
                min_confidence=min_confidence,
                concurrency=concurrency,
            )
        pool = _pool(n_workers, spec)  # after the shards: its submit starts a thread
        run: _Run | None = None
        try:
            with _Progress(summary, progress, out) as bar:
                run = _Run(
                    store=store,
                    jobs=jobs,
                    problems=problems,
                    extractor=extractor,
                    config_key=config_key,
                    pool=pool,
                    concurrency=concurrency,
                    per_host=per_host,
                    force=force,
                    strict=strict,
                    min_confidence=min_confidence,
                    allow_private=allow_private,
                    fetch_options=fetch_options or {},
                    summary=summary,
                    progress=bar,
                    shards=shards,
                )
                asyncio.run(_main(run))
                if not bar.fancy:
                    bar.update(force=True)
        finally:
            if shards is not None:
                shards.close(abandon=run is not None and run.abandoned)
            pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()
            _worker_extractor = None
        summary.duration_s = time.monotonic() - started
        return summary
    finally:
        if not isinstance(db, Store):
            store.close()


async def arun_batch(sources: Sequence[str | Path], **options: Any) -> BatchSummary:
    """`run_batch` from inside a running event loop (a notebook, a web app, an async job).

    The batch gets its own thread and event loop, so the caller's loop keeps running; its
    processes are started with "spawn" (forking a process whose loop is running in another
    thread is not safe), which costs a second or two of start-up. Ctrl-C is the caller's.
    """
    return await asyncio.to_thread(_run_batch_without_fork, sources, options)


def _run_batch_without_fork(sources: Sequence[str | Path], options: dict[str, Any]) -> BatchSummary:
    _thread_state.no_fork = True
    try:
        return run_batch(sources, **options)
    finally:
        _thread_state.no_fork = False


def _shard_pool(
    extractor: Any,
    processes: int | None,
    *,
    strict: bool,
    min_confidence: float,
    concurrency: int,
) -> ShardPool | None:
    """Model-call processes for a remote extractor, when fork is available and useful.

    `concurrency` caps the model requests in flight for the whole batch: chunked documents
    must not multiply it (each process gets its share).
    """
    if processes is None:  # one per core; with one core the batch's own loop is as good
        processes = min(os.cpu_count() or 1, concurrency)
        processes = processes if processes > 1 else 0
    usable = "fork" in multiprocessing.get_all_start_methods() and not _fork_unsafe()
    if processes < 1 or not usable:
        limit = getattr(extractor, "limit_requests", None)
        if callable(limit):
            limit(concurrency)
        return None
    prepare = getattr(extractor, "prepare", None)
    if callable(prepare):
        prepare()  # once, before the fork, instead of once per process on its first document
    grounding = _grounding(extractor, strict=strict, min_confidence=min_confidence)
    return ShardPool(extractor, grounding, processes=processes, requests=concurrency)


def _grounding(
    extractor: Any, *, strict: bool, min_confidence: float
) -> Callable[[Stack, Document], Stack]:
    """What turns a remote extractor's answer into the stored Stack (ground, filter)."""
    return functools.partial(
        finish,
        strict=strict,
        min_confidence=min_confidence,
        catalog=getattr(extractor, "catalog", None),
    )


async def _main(run: _Run) -> None:
    loop = asyncio.get_running_loop()
    installed = False
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, run.interrupt)
            installed = True
    try:
        await run.run()
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
