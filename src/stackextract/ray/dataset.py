"""`extract_dataset`: the batch pipeline as a Ray Data transform; `run_job`: sources in,
result parts out (what `stackextract batch --engine ray` runs)."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

import ray
import ray.data
from ray.data.datasource import FilenameProvider

from stackextract.batch.runner import batch_config_key, expand_sources
from stackextract.errors import ConfigError, InputError
from stackextract.extractors import get_extractor
from stackextract.pipeline import DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_RELEVANCE
from stackextract.ray import parts as P
from stackextract.ray import rows as R
from stackextract.ray.limits import ClusterGate, create_slots
from stackextract.ray.worker import SourceWorker

DEFAULT_BATCH_SIZE = 16
# an actor's CPU share: a little under 1, so that Ray's write tasks find a CPU while every
# actor runs (with exactly 1 on a small cluster, the writes wait for the last batch: +10 s)
DEFAULT_ACTOR_CPUS = 0.75
WRITE_CPUS = 0.25


def extract_dataset(
    ds: ray.data.Dataset,
    *,
    backend: str | None = None,
    concurrency: int = 8,
    per_host: int = 2,
    actors: int | tuple[int, int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_cpus: float = DEFAULT_ACTOR_CPUS,
    max_model_requests: int | None = None,
    slots_name: str | None = None,
    skip: Any = None,
    strict: bool = False,
    min_confidence: float | None = None,
    min_relevance: float | None = None,
    allow_private: bool = False,
    fetch_options: Mapping[str, Any] | None = None,
    robots: bool = True,
    **extractor_settings: Any,
) -> ray.data.Dataset:
    """The result rows (rows.COLUMNS) of a Dataset of sources, one row per document.

    Source rows have `url`, `path`, `html` or `text`, and may have `source` (the key to store
    inline content under). The work runs in an actor pool (`actors`: a size, or (min, max)
    to autoscale; default one per CPU of the cluster, each reserving `num_cpus`); each actor
    keeps up to `concurrency` documents in flight and `per_host` fetches per site (per
    actor: politeness across the cluster needs URLs grouped by host). `max_model_requests`
    caps the model
    requests in flight across the whole cluster (a lease actor; `slots_name` shares it with
    other jobs). `skip`: what is done already (see parts.read_done): those sources are not
    fetched, and texts with a done content hash are not sent to the model (status
    "duplicate"). Fetch limits and retries are batch's (`fetch_options`: timeout,
    max_bytes, retries, backoff, user_agent), and so is politeness: each actor reads a
    site's robots.txt once and obeys it for that user agent (a URL it keeps out is a
    "blocked" row; its Crawl-delay spaces the actor's requests), unless `robots=False` (your
    own sites only). Lazy, like every Dataset transform.
    """
    if concurrency < 1 or per_host < 1:
        raise InputError("concurrency and per_host must be at least 1")
    if max_model_requests is not None and max_model_requests < 1:
        raise InputError("max_model_requests must be at least 1")
    extractor = get_extractor(backend, **extractor_settings)  # bad settings fail here, once
    if min_confidence is None:
        min_confidence = DEFAULT_MIN_CONFIDENCE
    if min_relevance is None:
        min_relevance = DEFAULT_MIN_RELEVANCE
    if not 0.0 <= min_relevance <= 1.0:
        raise InputError(f"min_relevance must lie in 0..1, not {min_relevance}")
    config_key = batch_config_key(extractor, strict=strict, min_confidence=min_confidence,
                                  min_relevance=min_relevance)
    done = P.read_done(skip, config_key)
    name = getattr(extractor, "name", backend)
    local = name in ("offline", "heuristic")
    gate = None
    if max_model_requests is not None and not local:
        settings = getattr(extractor, "settings", None)
        # a lease outlives the longest request: one attempt's timeout, with room to spare
        lease_s = 2 * float(getattr(settings, "timeout", 120.0)) + 30.0
        slots = create_slots(max_model_requests, lease_s=lease_s, name=slots_name)
        gate = _GateFactory(slots)
    if actors is None:
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
    size: dict[str, Any] = {"size": actors} if isinstance(actors, int) else {
        "min_size": actors[0], "max_size": actors[1]}
    worker_settings = dict(extractor_settings)
    return ds.map_batches(
        SourceWorker,
        fn_constructor_kwargs={
            "backend": name,
            "settings": worker_settings,
            "config_key": config_key,
            "strict": strict,
            "min_confidence": min_confidence,
            "min_relevance": min_relevance,
            "allow_private": allow_private,
            "fetch_options": dict(fetch_options or {}),
            "concurrency": concurrency,
            "per_host": per_host,
            "done": done,
            "gate": gate,
            "robots": robots,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(**size),
        num_cpus=num_cpus,
    )


class _GateFactory:
    """Pickled into each actor's constructor; builds the ClusterGate there (it needs the
    actor's own id), then hands out the gate's context managers."""

    def __init__(self, slots: Any) -> None:
        self.slots = slots
        self._gate: ClusterGate | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"slots": self.slots, "_gate": None}

    def bind(self) -> None:
        """In the actor's constructor: register with the slot actor (a blocking call, kept
        out of the event loop)."""
        if self._gate is None:
            self._gate = ClusterGate(self.slots)

    def __call__(self) -> Any:
        self.bind()
        assert self._gate is not None
        return self._gate()


# --- the CLI's job -----------------------------------------------------------------------


@dataclass
class JobSummary:
    """What a Ray job wrote: counts of this run's new rows, and the import if any."""

    total: int = 0
    done: int = 0
    duplicates: int = 0
    failed: int = 0
    blocked: int = 0  # kept out by robots.txt
    skipped: int = 0
    requests: int = 0
    total_tokens: int = 0
    duration_s: float = 0.0
    startup_s: float = 0.0
    config_key: str = ""
    out: str = ""
    files: list[str] = field(default_factory=list)
    imported: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        bad = self.imported is not None and (self.imported.get("bad_files")
                                             or self.imported.get("unresolved"))
        return 1 if self.failed or bad else 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        rate = (self.done + self.duplicates) / self.duration_s if self.duration_s else 0.0
        return (
            f"{self.total} sources: {self.done} extracted, {self.duplicates} duplicates, "
            f"{self.failed} failed, {self.blocked} kept out by robots.txt, "
            f"{self.skipped} skipped (done before) in "
            f"{self.duration_s:.1f}s ({rate:.1f}/s, {self.requests} model requests); "
            f"{len(self.files)} part files in {self.out}"
        )


def source_rows(sources: Sequence[str | Path], *, limit: int | None = None) -> list[dict[str, Any]]:
    """Dataset rows for what `stackextract batch` takes (URLs, files, folders, URL lists):
    the same expansion, normalisation and dedupe; bad lines become rows that fail "input"."""
    jobs, problems = expand_sources(sources)
    if limit is not None:
        jobs = jobs[: max(0, limit)]
    found: list[dict[str, Any]] = [
        {"url": job.key} if job.kind == "url" else {"path": job.key} for job in jobs
    ]
    found += [{"source": p.key, "problem": p.message} for p in problems]
    return found


def run_job(
    sources: Sequence[str | Path],
    *,
    out: str | Path,
    output_format: Literal["parquet", "jsonl"] = "parquet",
    address: str | None = None,
    db: str | Path | None = None,
    prefix: str = "",
    force: bool = False,
    limit: int | None = None,
    skip: Iterable[Any] = (),
    progress: bool | None = None,
    stream: TextIO | None = None,
    **options: Any,
) -> JobSummary:
    """Run a Ray job over `sources` and write its result parts under `out`.

    Resumes by default: what earlier parts under `out` (and the store `db`, if it exists)
    hold under this configuration is skipped; `force` redoes everything. With `db`, the new
    parts are imported at the end. `address`: a cluster to join ("auto", "ray://..."), else
    a local Ray is started. `progress=False` silences Ray Data's progress log. Other
    options go to `extract_dataset`.
    """
    log = stream if stream is not None else sys.stderr
    started = time.monotonic()
    rows = source_rows(sources, limit=limit)
    out_dir = Path(out).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file; give a folder for the result parts")
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    startup = time.monotonic() - started
    extractor_settings = {k: v for k, v in options.items() if k not in _JOB_OPTIONS}
    config_key = _config_key(options, extractor_settings)
    done = R.Done()
    if not force:
        done = P.read_done(out_dir, config_key) if out_dir.is_dir() else R.Done()
        if db is not None and Path(db).expanduser().is_file():
            done = done | P.read_done(db, config_key, prefix=prefix)
        for extra in skip:
            done = done | P.read_done(extra, config_key, prefix=prefix)
    summary = JobSummary(total=len(rows), config_key=config_key, out=str(out_dir),
                         startup_s=round(startup, 3))
    if done.sources:  # URLs and paths done before: not even sent to the cluster
        rows = [row for row in rows if _known_key(row) not in done.sources]
    before = set(P.part_files([out_dir], missing_ok=True))
    if progress is False:
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    if rows:
        blocks = max(1, math.ceil(len(rows) / options.get("batch_size", DEFAULT_BATCH_SIZE)))
        blocks = min(blocks, 10_000)
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        if options.get("actors") is None:  # no more actors than blocks to give them
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            options = {**options, "actors": min(cpus, blocks)}
        result = extract_dataset(ds, skip=done, **options)
        out_dir.mkdir(parents=True, exist_ok=True)
        target = str(out_dir.resolve())
        # one folder may collect the parts of many runs: this run's files carry its own id
        # a write task takes the CPU share the actors leave (see DEFAULT_ACTOR_CPUS)
        write_args = {"num_cpus": WRITE_CPUS}
        if output_format == "jsonl":
            result.write_json(target, filename_provider=_Names(".jsonl"),
                              ray_remote_args=write_args)
        elif output_format == "parquet":
            result.write_parquet(target, filename_provider=_Names(".parquet"),
                                 ray_remote_args=write_args)
        else:
            raise ConfigError(f"unknown output format {output_format!r}; use parquet or jsonl")
    new = sorted(set(P.part_files([out_dir], missing_ok=True)) - before)
    summary.files = [str(p) for p in new]
    for path in new:
        for row in P.iter_rows(path, ["status", "requests", "total_tokens"]):
            status = row["status"]
            summary.done += status == R.OK
            summary.duplicates += status == R.DUPLICATE
            summary.failed += status == R.FAILED
            summary.blocked += status == R.BLOCKED
            summary.requests += row["requests"] or 0
            summary.total_tokens += row["total_tokens"] or 0
    summary.skipped = max(0, summary.total - summary.done - summary.duplicates - summary.failed
                          - summary.blocked)
    summary.duration_s = round(time.monotonic() - started, 3)
    if db is not None and new:
        imported = P.import_parts(new, db=db, prefix=prefix)
        summary.imported = imported.as_dict()
        print(f"import: {imported.line()}", file=log, flush=True)
    return summary


def _known_key(row: Mapping[str, Any]) -> str | None:
    return row.get("url") or row.get("path")


_JOB_OPTIONS = frozenset({
    "backend", "concurrency", "per_host", "actors", "batch_size", "num_cpus",
    "max_model_requests",
    "slots_name", "strict", "min_confidence", "min_relevance", "allow_private",
    "fetch_options", "robots",
})


def _config_key(options: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    extractor = get_extractor(options.get("backend", "auto"), **dict(settings))
    min_confidence = options.get("min_confidence")
    return batch_config_key(
        extractor, strict=bool(options.get("strict", False)),
        min_confidence=DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence,
        min_relevance=options.get("min_relevance"),
    )


class _Names(FilenameProvider):
    """Part file names `<time>_<write uuid>_<task>.<suffix>`: sortable by run, one per
    write task, the same name when Ray retries a task (the retry overwrites)."""

    def __init__(self, suffix: str) -> None:
        self.run = time.strftime("%Y%m%dT%H%M%S")
        self.suffix = suffix

    def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
        return f"{self.run}_{write_uuid}_{task_index:06d}{self.suffix}"
