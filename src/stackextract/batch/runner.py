"""Batch runs over many sources: concurrent, resumable, cached, one SQLite writer.

asyncio drives fetching (bounded overall and per host) and model calls; cleaning and the
offline extractor run in a process pool (trafilatura is CPU-bound and holds the GIL), so
both cores work. Every finished document is committed in its own transaction by a single
writer thread, so a killed run loses at most the documents in flight and a re-run resumes.

Sources: URLs, local files (.html .htm .md .mdx .markdown .txt, each also gzipped: .html.gz),
directories (searched recursively for those suffixes, hidden entries skipped) and URL-list
files. A file is a URL list when its suffix is .urls or .list, or when it is a .txt file
whose first non-blank, non-`#` line is an http(s) URL and nearly every line of its head looks
like a URL (a writeup that starts with its source URL stays a document; the run says which
it decided). A URL list is read a line at a time as the run goes; its invalid lines are
recorded as failures (stage "input", kind "url": never read as a path). A URL is fetched as
written; its normalised form is only the key that finds duplicates and stored results.
Each document's cleaning and offline extraction run within a time and memory budget
(batch/budget.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import itertools
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

from stackextract.batch.budget import Budget, run_within_budget
from stackextract.batch.shards import ShardPool, exit_with_parent
from stackextract.errors import (
    ConfigError,
    ExtractionError,
    FetchError,
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
DEFAULT_CONCURRENCY = 8
DEFAULT_PER_HOST = 2
ROBOTS_MAX_AGE_S = 24 * 3600.0  # RFC 9309: a robots.txt may be cached up to a day
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
    fetches: int = 0
    blocked: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    interrupted: bool = False
    backend: str = ""
    config_key: str = ""
    dry_run: bool = False
    would_fetch: int = 0
    would_extract: int = 0
    chunks: int = 0
    estimated_input_tokens: int = 0
    estimated_output_tokens: int = 0
    estimated_cost: float | None = None
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
        if self.dry_run:
            return self.dry_run_line()
        rate = (self.done + self.cached) / self.duration_s if self.duration_s else 0.0
        blocked = f" ({self.blocked} by robots.txt)" if self.blocked else ""
        tokens = ""
        if self.prompt_tokens or self.completion_tokens:
            tokens = f", {self.prompt_tokens} input + {self.completion_tokens} output tokens"
        text = (
            f"{self.total} sources: {self.done} extracted, {self.cached} cached, "
            f"{self.failed} failed, {self.skipped} skipped{blocked} in {self.duration_s:.1f}s "
            f"({rate:.1f}/s, {self.fetches} fetches, {self.model_calls} extractor calls"
            f"{tokens}, backend {self.backend})"
        )
        return text + (" - interrupted; run again to resume" if self.interrupted else "")

    def dry_run_line(self) -> str:
        """What a real run would do: fetches, extractions, requests, tokens and cost."""
        cost = "" if self.estimated_cost is None else f", estimated cost ${self.estimated_cost:.4f}"
        sent = (
            f"{self.chunks} model requests, ~{self.estimated_input_tokens} input + "
            f"~{self.estimated_output_tokens} output tokens{cost}"
            if self.backend == "llm" else "no model requests (offline backend)"
        )
        return (
            f"dry run, {self.total} sources: {self.cached} already stored, "
            f"{self.would_fetch} to fetch, {self.would_extract} to extract "
            f"({self.failed} failed, {self.blocked} kept out by robots.txt); "
            f"would send {sent}; backend {self.backend}"
        )


@dataclass(frozen=True)
class Job:
    """One source to process: `key` is how it is cached and stored (normalised URL or path);
    `target` what is fetched or read: the URL as written (normalising is for finding the same
    page twice, and can change what a server answers: `;jsessionid`, `%E9`, `?ref=`).
    A "stored" job re-extracts a source's stored text and never fetches or reads it."""

    key: str
    kind: Literal["url", "file", "stored"]
    target: str = ""

    @property
    def source(self) -> str:
        return self.target or self.key


@dataclass(frozen=True)
class InputProblem:
    """A line or path that cannot become a Job; it is recorded as a failure. `kind` is where
    it came from ("url": a URL argument or a line of a URL list; "file": a path)."""

    key: str
    message: str
    kind: Literal["url", "file"] = "url"


# --- sources ------------------------------------------------------------------------------

MAX_URL_LINE = 8192  # characters; a longer line of a URL list is refused, not read whole
URL_LIST_SHARE = 0.8  # of the lines of a .txt head that must look like URLs for a URL list
_URLISH = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")


def _txt_is_url_list(path: Path) -> tuple[bool, str]:
    """Whether a .txt file is a URL list, and a sentence saying why: its first line is an
    http(s) URL and nearly every line of its head looks like a URL. A writeup that starts
    with its source URL has prose lines after it and stays a document."""
    from stackextract.sources.urls import is_http_url

    try:  # the head only: a file with no newline would otherwise come into memory whole
        with path.open("rb") as fp:
            head = fp.read(URL_SNIFF_BYTES)
    except OSError:
        return False, ""  # read_file reports why it cannot be read
    text = head.decode("utf-8-sig", errors="replace")
    if len(head) == URL_SNIFF_BYTES and "\n" in text:
        text = text.rsplit("\n", 1)[0]  # whole lines only
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    content = [line for line in lines if not line.startswith("#")]
    if not content:  # only comments: an empty URL list, not a writeup (empty: read_file)
        return bool(lines), "it holds only # comments"
    if not is_http_url(content[0]):
        return False, ""
    urlish = sum(1 for line in content if _URLISH.match(line))
    if urlish >= URL_LIST_SHARE * len(content):
        return True, f"{urlish} of its first {len(content)} lines are URLs"
    return False, (
        f"it starts with a URL, but only {urlish} of its first {len(content)} lines are URLs"
    )


def _is_url_list(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in URL_LIST_SUFFIXES:
        return True
    return suffix == ".txt" and _txt_is_url_list(path)[0]


def _walk(directory: Path, problems: list[InputProblem]) -> Iterator[Path]:
    def unreadable(exc: OSError) -> None:  # os.walk would skip it without a word
        problems.append(InputProblem(
            str(exc.filename),
            f"cannot list directory {exc.filename}: {exc.strerror}; its files were skipped",
            "file",
        ))

    for root, dirs, files in os.walk(directory, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(WALKED_SUFFIXES):
                yield Path(root) / name


def _url_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of a URL-list file (see `_list_lines`)."""
    try:
        fp = path.open("r", encoding="utf-8-sig", errors="replace", newline=None)
    except OSError as exc:
        raise InputError(f"cannot read URL list {path}: {exc.strerror}") from exc
    with fp:
        yield from _list_lines(fp, f"URL list {path}")


def _list_lines(fp: TextIO, what: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of a URL list, blanks and `#` comments skipped, read a
    line at a time: a list of millions of lines is never in memory, and a line without an
    end is cut at MAX_URL_LINE characters (the rest of it skipped)."""
    number = 0
    while True:
        try:
            line = fp.readline(MAX_URL_LINE)
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror}") from exc
        if not line:
            return
        number += 1
        if len(line) == MAX_URL_LINE and not line.endswith("\n"):
            while True:  # skip the rest of an overlong line
                more = fp.readline(MAX_URL_LINE)
                if not more or more.endswith("\n"):
                    break
            yield number, line[:80] + "…"
            continue
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


class _Sources:
    """Jobs and input problems from the command's sources, produced as the run asks for them
    (a URL list is read a line at a time), deduplicated, in the order given.

    Mistakes in the command are found when it is built, before any work: a path that does
    not exist, a directory without documents, a URL list without a URL (InputError).
    `notes` says how each ambiguous source was read (a .txt file: URL list or writeup).
    """

    def __init__(self, sources: Sequence[str | Path]) -> None:
        self.notes: list[str] = []
        self.seen: set[str] = set()
        self._plans: list[tuple[str, Any]] = [self._plan(raw) for raw in sources]
        self._items = self._expand()

    def __iter__(self) -> Iterator[Job | InputProblem]:
        return self._items

    def _plan(self, raw: str | Path) -> tuple[str, Any]:
        text = str(raw).strip()
        if not isinstance(raw, Path) and text == "-":  # a URL list on standard input
            # read like a URL-list file, and fetched as written (the key is normalised);
            # stdin cannot be read twice, so its lines are kept
            lines = list(_list_lines(sys.stdin, "standard input"))
            self._first_url(lines, "standard input")
            return "stdin", lines
        if not isinstance(raw, Path) and _URL_RE.match(text):
            return "url", text
        path = Path(text).expanduser()
        if path.is_dir():
            problems: list[InputProblem] = []
            walk = _walk(path, problems)
            first = next(walk, None)
            if first is None and not problems:
                raise InputError(
                    f"no {'/'.join(DOCUMENT_SUFFIXES)} files (or .gz of them) under {path}; "
                    "check the directory"
                )
            return "dir", (first, walk, problems)
        if path.is_file():
            return "file", self._check_file(path)
        raise InputError(
            f"no such file or directory: {text} (for a web page give the full https:// URL)"
        )

    def _check_file(self, path: Path) -> tuple[Path, bool]:
        """(path, is a URL list); a URL list is read up to its first URL now, so that one
        without any is a usage error before the run starts."""
        if not path.is_file():  # FIFO, socket, device, broken link: never opened here
            return path, False
        suffix = path.suffix.lower()
        listed = suffix in URL_LIST_SUFFIXES
        if suffix == ".txt":
            listed, why = _txt_is_url_list(path)
            if why:
                verdict = "a list of URLs" if listed else "a writeup, not a URL list"
                self.notes.append(f"{path}: read as {verdict} ({why})")
        if listed:
            self._first_url(_url_lines(path), str(path))
        return path, listed

    @staticmethod
    def _first_url(lines: Iterable[tuple[int, str]], where: str) -> None:
        """Read `lines` up to the first http(s) URL; a list without any is a usage error."""
        from stackextract.sources.urls import is_http_url

        invalid: list[tuple[int, str]] = []
        for number, line in lines:
            if is_http_url(line):
                return
            invalid.append((number, line))
        if invalid:
            number, line = invalid[0]
            raise InputError(
                f"{where}: no valid URL in the list: {len(invalid)} invalid line(s), the first "
                f"is line {number}: {_clip(line)!r}; put one http(s) URL on each line"
            )
        raise InputError(f"{where}: the URL list is empty; put one http(s) URL on each line")

    def _job(self, job: Job) -> Iterator[Job]:
        if job.key not in self.seen:
            self.seen.add(job.key)
            yield job

    def _url(self, text: str, where: str | None = None) -> Iterator[Job | InputProblem]:
        from stackextract.sources.urls import normalize_url

        try:
            key = normalize_url(text)
        except InputError as exc:
            if text not in self.seen:
                self.seen.add(text)
                message = f"{where}: not an http(s) URL: {text[:80]!r}" if where else str(exc)
                yield InputProblem(text, message, "url")
            return
        yield from self._job(Job(key, "url", text))

    def _file(self, path: Path, listed: bool | None = None) -> Iterator[Job | InputProblem]:
        if listed is None:
            path, listed = self._check_file(path)
        if not listed:
            yield from self._job(Job(str(path.resolve()), "file"))
            return
        for number, line in _url_lines(path):
            yield from self._url(line, f"{path}:{number}")

    def _expand(self) -> Iterator[Job | InputProblem]:
        for kind, plan in self._plans:
            if kind == "url":
                yield from self._url(plan)
            elif kind == "stdin":
                for number, line in plan:
                    yield from self._url(line, f"stdin:{number}")
            elif kind == "file":
                try:
                    yield from self._file(*plan)
                except InputError as exc:  # e.g. the list became unreadable during the run
                    yield InputProblem(str(plan[0]), str(exc), "file")
            else:
                first, walk, problems = plan
                for item in itertools.chain([first] if first else [], walk):
                    try:
                        yield from self._file(item)
                    except InputError as exc:  # a URL list in the tree without any URL
                        yield InputProblem(str(item), str(exc), "file")
                    while problems:
                        yield problems.pop(0)
                while problems:
                    yield problems.pop(0)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def expand_sources(sources: Sequence[str | Path]) -> tuple[list[Job], list[InputProblem]]:
    """Jobs for URLs, files, directories and URL lists, deduplicated, in the order given
    (all of them at once; a batch reads them as it goes).

    Raises InputError for a path that does not exist, a directory with no documents, or a
    URL list without any URL: those are mistakes in the command, not in the data.
    """
    jobs: list[Job] = []
    problems: list[InputProblem] = []
    for item in _Sources(sources):
        (jobs if isinstance(item, Job) else problems).append(item)  # type: ignore[arg-type]
    return jobs, problems


def jobs_from_failures(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[Job], list[InputProblem]]:
    """Jobs for recorded failures, each of the kind it was recorded with: a URL only as a
    URL, a path only if it was a path (a line of a URL list is never read as a file)."""
    from stackextract.sources.urls import is_http_url, normalize_url

    jobs: list[Job] = []
    problems: list[InputProblem] = []
    for row in rows:
        key, kind = str(row["source"]), row.get("kind")
        if kind in ("url", None) and is_http_url(key):
            jobs.append(Job(normalize_url(key), "url", key))
        elif kind == "file" and Path(key).is_file():
            jobs.append(Job(key, "file"))
        elif kind == "url":
            problems.append(InputProblem(key, f"not an http(s) URL: {key[:80]!r}", "url"))
        elif kind == "file":
            problems.append(InputProblem(key, f"no such file: {key[:80]!r}", "file"))
        else:
            problems.append(InputProblem(
                key, f"not a URL: {key[:80]!r}; recorded by an older version without its "
                "kind, so it is not read as a file: give the path to retry it", "url"))
    return jobs, problems


def jobs_from_keys(keys: Sequence[str]) -> tuple[list[Job], list[InputProblem]]:
    """Jobs for stored source keys whose kind is not known: URLs only."""
    return jobs_from_failures([{"source": key, "kind": None} for key in keys])


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
    _warm_date_parsing()
    _warm_justext()


def _warm_justext() -> None:
    """trafilatura's last-resort extractor (justext) builds one stop-word list of every
    language on the first page that needs it (~0.2 s of CPU): built before the fork, the
    workers share it instead of each paying it inside a real page."""
    with contextlib.suppress(Exception):
        from trafilatura import external

        if external.JT_STOPLIST is None:
            external.jt_stoplist_init()


def _warm_extractor(extractor: Any) -> None:
    """Extract one small page with the parent's extractor before the fork: what it loads
    lazily on first use (the catalog's entries and spelling maps, word lists, compiled
    patterns) is then shared by every worker instead of being built in each."""
    from stackextract.models import Document
    from stackextract.pipeline import process_document

    with contextlib.suppress(Exception):  # a warm-up only: real documents report their own
        text = ("Our stack\n\nWe run our backend on Python with Django and keep our data in "
                "PostgreSQL. Redis holds sessions and the frontend is React.\n") * 3
        process_document(Document(text=text), extractor)
        catalog = getattr(extractor, "catalog", None)
        if catalog is not None:
            catalog.lookup("no such tool, warm-up")  # builds the squashed-spelling map


def _warm_date_parsing() -> None:
    """Load what htmldate loads on the first page whose date needs dateparser: the parser and
    the locale data of every language (~1 s of CPU). Done before the pool forks, it is paid
    once and shared, instead of once per worker inside a real page."""
    with contextlib.suppress(Exception):
        from htmldate import extractors

        extractors.month_words()
        extractors.get_external_parser().get_date_data("Published on 5 March 2024")


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


def _extract_offline(doc: Document, strict: bool, min_confidence: float,
                     min_relevance: float) -> Stack:
    """Extract and ground in a worker process (the extractor is built once per worker)."""
    from stackextract.pipeline import process_document

    return process_document(
        doc, _extractor_in_worker(), strict=strict, min_confidence=min_confidence,
        min_relevance=min_relevance,
    )


def _make_extractor(backend: str, settings: Mapping[str, Any]) -> Any:
    from stackextract.extractors import get_extractor

    return get_extractor(backend, **dict(settings))


def batch_config_key(extractor: Any, *, strict: bool, min_confidence: float,
                     min_relevance: float | None = None) -> str:
    """The extractor's cache key (which covers its catalog and data files), plus the output
    filters when they are not the defaults."""
    from stackextract.pipeline import DEFAULT_MIN_RELEVANCE, stored_config_key

    return stored_config_key(
        extractor, strict=strict, min_confidence=min_confidence,
        min_relevance=DEFAULT_MIN_RELEVANCE if min_relevance is None else min_relevance,
    )


def _runs_locally(extractor: Any) -> bool:
    """True for CPU-bound extractors (offline) that belong in the process pool."""
    return getattr(extractor, "name", "") in ("offline", "heuristic")


def _pool(workers: int, spec: tuple[str, dict[str, Any]] | None) -> concurrent.futures.Executor:
    """A process pool started now, before threads exist (fork is only safe then)."""
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and not _fork_unsafe() else "spawn"
    if method == "fork":
        warm_up()  # once, here, instead of once in every worker
        if _worker_extractor is not None:
            _warm_extractor(_worker_extractor)
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


def _spawned_pool(workers: int, spec: tuple[str, dict[str, Any]] | None) -> (
    concurrent.futures.Executor
):
    """A pool started while the event loop runs (to replace a broken one): spawned, since
    forking a process with running threads is not safe."""
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(spec, os.getpid()),
    )


def _kill_workers(pool: concurrent.futures.Executor) -> None:
    """End a pool's worker processes at once (a worker may be hours into one page) and
    forget its pending work."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.kill()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.join(timeout=5)


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
        finished = s.done + s.cached + s.failed + s.blocked + s.would_extract
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = finished / elapsed
        status = f"done {s.done} cached {s.cached} failed {s.failed}"
        return finished, status, f"{rate:.1f} docs/s"

    def update(self, *, force: bool = False) -> None:
        finished, status, rate = self._counts()
        if self.bar is not None:
            self.bar.update(self.task, completed=finished, total=max(self.summary.total, finished),
                            status=status, rate=rate)
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
            from rich.markup import escape

            self.bar.console.print(escape(message))
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
        items: Iterator[Job | InputProblem],
        stored: set[str],
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
        min_relevance: float,
        progress: _Progress,
        shards: ShardPool | None = None,
        new_pool: Callable[[int], concurrent.futures.Executor] | None = None,
        robots: bool = True,
        keep_raw: bool = False,
        refetch: bool = False,
        dry_run: bool = False,
        price_in: float | None = None,
        price_out: float | None = None,
        fresh_robots: bool = False,
        settled: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.robots = robots
        self.fresh_robots = fresh_robots  # --retry-failed asks the sites again
        self.keep_raw = keep_raw
        self.refetch = refetch
        self.dry_run = dry_run
        self.prices = (price_in, price_out)
        self.shards = shards
        self.items = items  # read as the loaders ask: a URL list is never in memory whole
        self.stored = stored  # sources already stored under this configuration: not fetched
        self.extractor = extractor
        self.local = _runs_locally(extractor)
        self.ground = _grounding(extractor, strict=strict, min_confidence=min_confidence,
                                 min_relevance=min_relevance)
        self.config_key = config_key
        self.pool = pool
        self.n_workers = max(1, getattr(pool, "_max_workers", 1) or 1)
        self.new_pool = new_pool or (lambda n: pool)
        self.budget = Budget.from_env()
        self.concurrency = concurrency
        self.force = force
        self.strict = strict
        self.min_confidence = min_confidence
        self.min_relevance = min_relevance
        self.allow_private = allow_private
        self.fetch_options = dict(fetch_options)
        from stackextract.sources.fetch import DEFAULT_USER_AGENT

        self.user_agent = str(self.fetch_options.get("user_agent") or DEFAULT_USER_AGENT)
        self.fetch_options["user_agent"] = self.user_agent
        from stackextract.sources.robots import SiteRules

        self.sites = SiteRules(self._robots_file, self.user_agent)  # read once per site and run
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
        self._client: Any = None
        self.pages: dict[str, dict[str, Any]] = {}  # fetch records waiting for their save
        # URL sources whose text is stored (read once: the set grows with the database, not
        # with the URL list, which is streamed)
        self.stored_text: set[str] = set() if refetch else set(store.stored_sources())
        # sources whose last answer was final (a 404, robots.txt): not asked again
        self.settled: dict[str, str] = dict(settled or {})

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self.store.owns_connection:
            return await loop.run_in_executor(self.db_thread, lambda: fn(*args, **kwargs))
        return fn(*args, **kwargs)  # a caller's connection may be bound to this thread

    async def in_pool(self, fn: Callable[..., Any], *args: Any, stage: str) -> Any:
        """`fn(*args)` in a worker, within the time and memory budget of one document.

        A worker that had to be ended (over its budget where no handler could stop it, out of
        memory, killed) breaks the pool: a new pool takes over, and each document that was
        in flight runs once more alone, so that only the one that breaks a worker again is
        recorded as a failure (with its stage), and the others are done."""
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            return await loop.run_in_executor(pool, run_within_budget, fn, args, self.budget,
                                              stage)
        except concurrent.futures.process.BrokenProcessPool:
            if self.abandoned:
                raise
        if self.pool is pool:  # the first to see it replaces it
            self.pool = self.new_pool(self.n_workers)
            _kill_workers(pool)
        solo = self.new_pool(1)
        try:
            return await loop.run_in_executor(solo, run_within_budget, fn, args, self.budget,
                                              stage)
        except concurrent.futures.process.BrokenProcessPool as exc:
            raise self.budget.killed(stage) from exc
        finally:
            _kill_workers(solo)

    async def run(self) -> None:
        """Loaders (fetch + clean) run ahead of extractors through a bounded queue, so model
        slots never wait for a page; the writer commits results one document at a time."""
        if self.shards is not None:
            self.shards.start()
        writer = asyncio.create_task(self.writer())
        client = self._client = self._new_client()
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
        if self.stop.is_set():  # the sources the run did not reach count as skipped
            until = time.monotonic() + 2.0  # (a huge list is not read to its end for that)
            while time.monotonic() < until and self.next_item() is not None:
                pass
        s = self.summary
        if self.dry_run:
            s.skipped = s.blocked
        else:
            s.skipped = max(0, s.total - s.done - s.cached - s.failed)
        if self.store_error is not None:  # say how far the run got: the summary is not printed
            stored = f"{s.done + s.cached} of {s.total} sources are stored"
            raise StoreError(f"{self.store_error} ({stored})") from self.store_error
        if self.fatal is not None:
            reason = one_line(str(self.fatal) or type(self.fatal).__name__, limit=300)
            raise ExtractionError(
                f"{reason}; every finished document is stored, run the same batch again to resume"
            ) from self.fatal

    def _new_client(self) -> Any:
        from stackextract.sources.fetch import crawl_client

        return crawl_client(self.concurrency)

    def next_item(self) -> Job | InputProblem | None:
        item = next(self.items, None)
        if item is not None:
            self.summary.total += 1
        return item

    async def loader(self, client: Any) -> None:
        while not self.stop.is_set():
            job = self.next_item()
            if job is None:
                return
            if isinstance(job, InputProblem):
                await self.queue.put(
                    ("fail", job.key, "input", "InputError", job.message, 1, job.kind)
                )
                continue
            if job.key in self.stored:
                self.summary.cached += 1
                self.progress.update()
                continue
            why = self.settled.get(job.key)
            if why is not None:  # a 404 or a robots.txt "no" is not asked again
                if why == "robots":
                    self.summary.blocked += 1
                else:
                    self.summary.failed += 1
                self.progress.update()
                continue
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
            code = getattr(exc, "status_code", None)
            if isinstance(exc, FetchError) and code is not None:  # a 404 is not asked twice
                await self.queue.put(("page", job.key, {
                    "outcome": "http-error", "url": job.key, "status_code": code}))
            await self.queue.put(("fail", job.key, *failure_fields(exc), _failure_kind(job)))
        return None

    async def load(self, job: Job, client: Any) -> Document | None:
        """Fetch and clean (or read) one source; None when nothing is left to extract.

        A URL whose text is stored is not fetched again (a changed setting or --force
        re-extracts the stored text) unless `refetch`, which asks conditionally."""
        doc: Document | None = None
        reuse = job.kind == "url" and not self.refetch and job.key in self.stored_text
        if job.kind == "stored" or reuse:
            with tag_stage("cache"):
                doc = await self.db(self.store.document, job.key)
            if doc is None and job.kind == "stored":
                raise InputError(f"no stored text for {job.key[:200]!r}")
        if doc is None:
            with tag_stage("fetch" if job.kind == "url" else "input"):
                if job.kind == "url":
                    doc = await self._load_url(job)
                    if doc is None:
                        return None
                else:
                    doc = await self.in_pool(_doc_from_path, job.source, stage="clean")
        if self.dry_run:
            if job.kind == "url":
                await self.db(self.store.save_document, doc, source=job.key,
                              page=self.pages.pop(job.key, None))
            hit = None
            if not self.force:
                hit = await self.db(
                    self.store.cached, doc.content_sha256, config_key=self.config_key
                )
            if hit is not None:
                self.summary.cached += 1
                return None
            return doc
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

    async def _load_url(self, job: Job) -> Document | None:
        """Fetch (politely) and clean one URL; None when robots.txt keeps it out."""
        url = job.key
        if self.robots and not await self.sites.allowed(url):
            await self.queue.put(("skip", url))
            return None
        stored = await self.db(self.store.page, url) if self.refetch else None
        headers: dict[str, str] = {}
        if stored is not None and stored.get("outcome") in ("ok", "not-modified"):
            if stored.get("etag"):
                headers["If-None-Match"] = stored["etag"]
            if stored.get("last_modified"):
                headers["If-Modified-Since"] = stored["last_modified"]
        # fetched as written (normalising is only for finding the same page twice)
        result = await self._fetch(job.source, self._client, headers=headers or None)
        self.summary.fetches += 1
        if self.dry_run:
            self.summary.would_fetch += 1
        doc: Document | None = None
        if result.status_code == 304:
            doc = await self.db(self.store.document, url)
        if doc is None:
            if result.status_code == 304:  # the stored text is gone: ask unconditionally
                result = await self._fetch(job.source, self._client)
                self.summary.fetches += 1
            with tag_stage("clean"):
                doc = await self.in_pool(_doc_from_fetch, result, stage="clean")
        # written with the document (one transaction), or with its failure
        self.pages[url] = {
            "outcome": "not-modified" if result.status_code == 304 else "ok",
            "url": url,
            "final_url": result.final_url,
            "status_code": result.status_code,
            "etag": result.headers.get("etag"),
            "last_modified": result.headers.get("last-modified"),
            "content_type": result.content_type or None,
            "raw": result.body if self.keep_raw and result.status_code != 304 else None,
        }
        return doc

    async def _robots_file(self, origin: str) -> Any:
        from stackextract.sources.robots import RobotsFile, afetch_robots

        with tag_stage("robots"):
            stored = None
            if not self.fresh_robots:
                stored = await self.db(self.store.robots_file, origin,
                                       max_age_s=ROBOTS_MAX_AGE_S)
            if stored is not None:
                return RobotsFile(origin, *stored).parsed()
            host = urlsplit(origin).netloc
            async with self.host_limits[host]:
                file = await afetch_robots(origin, client=self._client,
                                           allow_private=self.allow_private,
                                           **self.fetch_options)
            self.summary.fetches += 1
            await self.db(self.store.record_robots, origin, file.status_code, file.body)
            return file.parsed()

    def _add_estimate(self, doc: Document) -> None:
        self.summary.would_extract += 1
        if self.local:
            return
        from stackextract.llm.estimate import estimate_document

        estimate = estimate_document(self.extractor, doc)
        s = self.summary
        s.chunks += estimate.chunks
        s.estimated_input_tokens += estimate.input_tokens
        s.estimated_output_tokens += estimate.output_tokens
        price_in, price_out = self.prices
        if price_in is not None or price_out is not None:
            s.estimated_cost = (
                s.estimated_input_tokens * (price_in or 0.0)
                + s.estimated_output_tokens * (price_out or 0.0)
            ) / 1e6

    def _count_tokens(self, stack: Stack) -> None:
        usage = stack.provenance.usage
        self.summary.prompt_tokens += usage.prompt_tokens
        self.summary.completion_tokens += usage.completion_tokens

    async def extract(self, job: Job, doc: Document) -> None:
        if self.dry_run:
            self._add_estimate(doc)
            return
        self.summary.model_calls += 1
        with tag_stage("extract"):
            if self.local:
                stack = await self.in_pool(_extract_offline, doc, self.strict, self.min_confidence,
                                           self.min_relevance, stage="extract")
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

    async def _fetch(self, url: str, client: Any, *, headers: dict[str, str] | None = None,
                     ) -> Any:
        from stackextract.sources.fetch import afetch

        host = urlsplit(url).netloc
        async with self.host_limits[host]:
            if self.robots:
                await self.sites.wait_turn(url)
            return await afetch(
                url, client=client, allow_private=self.allow_private, headers=headers,
                **self.fetch_options,
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
                if item[0] == "page":
                    _, key, fields = item
                    await self.db(self.store.record_page, key, **fields)
                    continue
                if item[0] == "skip":
                    await self.db(self.store.record_page, item[1], outcome="robots",
                                  url=item[1])
                    self.summary.blocked += 1
                    self.progress.update()
                    continue
                if item[0] == "save":
                    _, key, doc, stack, was_cached = item
                    result = await self.db(
                        self.store.save,
                        doc,
                        stack,
                        config_key=self.config_key,
                        source=key,
                        replace=self.force,
                        page=self.pages.pop(key, None),
                    )
                    # a concurrent run may have stored it first: then it is not ours to count
                    if was_cached or not result.created:
                        self.summary.cached += 1
                    else:
                        self.summary.done += 1
                        self._count_tokens(stack)
                else:
                    _, key, stage, kind, message, attempts, source_kind = item
                    page = self.pages.pop(key, None)
                    if page is not None:
                        await self.db(self.store.record_page, key, **page)
                    await self.db(
                        self.store.record_failure,
                        key,
                        stage=stage,
                        error_type=kind,
                        message=message,
                        attempts=attempts,
                        kind=source_kind,
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
    backend: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    per_host: int = DEFAULT_PER_HOST,
    retry_failed: bool = False,
    force: bool = False,
    limit: int | None = None,
    allow_private: bool = False,
    progress: bool | None = None,
    prefix: str = "",
    strict: bool = False,
    min_confidence: float | None = None,
    min_relevance: float | None = None,
    workers: int | None = None,
    model_processes: int | None = None,
    fetch_options: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
    extractor: Any = None,
    robots: bool = True,
    keep_raw: bool = False,
    refetch: bool = False,
    reextract: bool = False,
    dry_run: bool = False,
    price_in: float | None = None,
    price_out: float | None = None,
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
    `backend`: "offline", "llm" or "auto"; None is $STACKEXTRACT_BACKEND, else offline.

    Politeness: robots.txt is fetched once per site (stored, reused for a day) and obeyed for
    the user agent (`fetch_options["user_agent"]`, default names the project); a page it keeps
    out is skipped, not failed; its Crawl-delay is left between requests to the site.
    `robots=False` ignores it (your own sites).
    Re-extraction: a URL whose text is stored is never fetched again; `force`, a changed
    setting or `reextract=True` (every stored source, nothing fetched or read) extract the
    stored text. `refetch=True` fetches stored pages again, conditionally (ETag /
    Last-Modified: a 304 keeps the stored text). `keep_raw=True` also stores each fetched
    page, compressed. A 404, a 410 or a page kept out by robots.txt is not fetched again on a
    plain re-run; `retry_failed` retries those too.
    `dry_run=True`: fetch and clean what is not stored (the text is kept, so the real run does
    not fetch it again), make no model request, and report documents, chunks, estimated
    tokens and, with `price_in`/`price_out` (per million tokens), the cost.
    Filters: `min_confidence` (items), `min_relevance` (a page the offline model scores less
    likely than this to be a stack writeup keeps nothing; default 0.5); both are part of the
    stored configuration key, as in `extract`.
    """
    if min_relevance is not None and not 0.0 <= min_relevance <= 1.0:
        raise InputError(f"min_relevance must lie in 0..1, not {min_relevance}")
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
        items: Iterator[Job | InputProblem]
        settled: dict[str, str] = {}
        if reextract:
            stored_keys = store.stored_sources()
            if sources:
                wanted, _ = expand_sources(sources)
                keys = {job.key for job in wanted}
                stored_keys = [key for key in stored_keys if key in keys]
            items = iter([Job(key, "stored") for key in stored_keys])
        elif retry_failed:
            rows = list(store.failures())
            # pages robots.txt kept out are asked again too (robots.txt is read afresh)
            rows += [{"source": key, "kind": "url"}
                     for key, why in store.settled_sources().items() if why == "robots"]
            if sources:
                wanted, bad = expand_sources(sources)
                keys = {job.key for job in wanted} | {problem.key for problem in bad}
                rows = [row for row in rows if row["source"] in keys]
            jobs, problems = jobs_from_failures(rows)
            items = iter([*problems, *jobs])
        else:
            found = _Sources(sources)
            for note in found.notes:  # how an ambiguous source was read, before the run
                print(f"batch: {note}", file=out, flush=True)
            items = iter(found)
            settled = store.settled_sources()
            if not robots:  # robots.txt ignored: what it kept out is fetched now
                settled = {key: why for key, why in settled.items() if why != "robots"}
        if limit is not None:
            items = _limited(items, max(0, limit))
        own_extractor = extractor is None
        if extractor is None:
            from stackextract.extractors import announce_backend, resolve_backend

            chosen = backend
            backend = resolve_backend(backend, **extractor_settings)
            announce_backend(chosen, backend, extractor_settings, stream=out)
            extractor = _make_extractor(backend, extractor_settings)
        if min_confidence is None:
            from stackextract.pipeline import DEFAULT_MIN_CONFIDENCE

            min_confidence = DEFAULT_MIN_CONFIDENCE
        if min_relevance is None:
            from stackextract.pipeline import DEFAULT_MIN_RELEVANCE

            min_relevance = DEFAULT_MIN_RELEVANCE
        config_key = batch_config_key(extractor, strict=strict, min_confidence=min_confidence,
                                      min_relevance=min_relevance)
        summary = BatchSummary(backend=getattr(extractor, "name", backend or ""),
                               config_key=config_key, dry_run=dry_run)
        if summary.backend == "heuristic":
            summary.backend = "offline"
        # sources already stored under this configuration: no fetch, no model
        stored: set[str] = (set() if force or refetch
                            else set(store.cached_sources(config_key)))
        if force:
            settled = {}
        first = _first_work(items, stored, summary, settled)
        if first is None:  # nothing to do: no process is started
            summary.skipped = summary.blocked
            summary.duration_s = time.monotonic() - started
            return summary
        items = itertools.chain([first], items)
        n_workers = workers or os.cpu_count() or 1
        local = _runs_locally(extractor)
        spec = (backend or "offline", dict(extractor_settings)) if local else None
        global _worker_extractor
        # forked workers inherit the parent's extractor instead of building their own
        _worker_extractor = extractor if local else None
        shards = None
        if not local and own_extractor and not dry_run:
            shards = _shard_pool(
                extractor,
                model_processes,
                strict=strict,
                min_confidence=min_confidence,
                min_relevance=min_relevance,
                concurrency=concurrency,
            )
        pool = _pool(n_workers, spec)  # after the shards: its submit starts a thread
        run: _Run | None = None
        try:
            with _Progress(summary, progress, out) as bar:
                run = _Run(
                    store=store,
                    items=items,
                    stored=stored,
                    extractor=extractor,
                    config_key=config_key,
                    pool=pool,
                    concurrency=concurrency,
                    per_host=per_host,
                    force=force,
                    strict=strict,
                    min_confidence=min_confidence,
                    min_relevance=min_relevance,
                    allow_private=allow_private,
                    fetch_options=fetch_options or {},
                    summary=summary,
                    progress=bar,
                    shards=shards,
                    new_pool=functools.partial(_spawned_pool, spec=spec),
                    robots=robots,
                    keep_raw=keep_raw,
                    refetch=refetch,
                    dry_run=dry_run,
                    price_in=price_in,
                    price_out=price_out,
                    fresh_robots=retry_failed,
                    settled=settled,
                )
                asyncio.run(_main(run))
                if not bar.fancy:
                    bar.update(force=True)
        finally:
            if shards is not None:
                shards.close(abandon=run is not None and run.abandoned)
            if run is not None and run.abandoned:  # second Ctrl-C: end the workers now
                _kill_workers(run.pool)
                _kill_workers(pool)
            else:
                pool.shutdown(wait=True, cancel_futures=True)
                if run is not None and run.pool is not pool:
                    run.pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()
            _worker_extractor = None
        summary.duration_s = time.monotonic() - started
        return summary
    finally:
        if not isinstance(db, Store):
            store.close()


def _limited(items: Iterator[Job | InputProblem], limit: int) -> Iterator[Job | InputProblem]:
    """At most `limit` jobs (input problems do not count), reading no further."""
    left = limit
    for item in items:
        if isinstance(item, Job):
            if left <= 0:
                return
            left -= 1
        yield item


def _failure_kind(job: Job) -> str | None:
    """What a failure row remembers of where the source came from (None keeps what it had)."""
    return job.kind if job.kind in ("url", "file") else None


def _first_work(
    items: Iterator[Job | InputProblem], stored: set[str], summary: BatchSummary,
    settled: Mapping[str, str] | None = None,
) -> Job | InputProblem | None:
    """The first item that needs work (counting the stored and settled ones before it)."""
    settled = settled or {}
    for item in items:
        if isinstance(item, Job) and item.key in stored:
            summary.total += 1
            summary.cached += 1
            continue
        why = settled.get(item.key) if isinstance(item, Job) else None
        if why is not None:  # a 404 or a robots.txt "no" is not asked again
            summary.total += 1
            if why == "robots":
                summary.blocked += 1
            else:
                summary.failed += 1
            continue
        return item
    return None


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
    min_relevance: float,
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
    grounding = _grounding(extractor, strict=strict, min_confidence=min_confidence,
                           min_relevance=min_relevance)
    return ShardPool(extractor, grounding, processes=processes, requests=concurrency)


def _grounding(
    extractor: Any, *, strict: bool, min_confidence: float, min_relevance: float
) -> Callable[[Stack, Document], Stack]:
    """What turns a remote extractor's answer into the stored Stack (ground, filter)."""
    return functools.partial(
        finish,
        strict=strict,
        min_confidence=min_confidence,
        min_relevance=min_relevance,
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
