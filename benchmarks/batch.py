"""Batch benchmark: concurrency efficiency, cache re-run, memory, offline throughput.

    .venv/bin/python benchmarks/batch.py                 # everything (about 2 minutes)
    .venv/bin/python benchmarks/batch.py --only llm      # or: memory, offline

- llm: N pages from a local page server, LLM backend against a local OpenAI-compatible
  server answering every request after a fixed latency. Efficiency = ideal / actual, with
  ideal = ceil(N / concurrency) * latency. Then the same batch again: its time, the model
  requests it made (must be 0) and the rows it added (must be 0).
- memory: peak RSS (parent, and the largest worker) of offline batches of 500 and 2,000
  pages, each in a fresh process; it must stay under 300 MB and not grow with N.
- offline: the 181 pages of ../shared/benchmarks/article-extraction through the offline
  batch (clean + extract + ground + SQLite, process pool of os.cpu_count() workers) against
  its floor: trafilatura with exactly the settings `clean_html` uses, in as many forked
  processes, on the same files, alternating floor and batch `--repeat` times in one run.
  Targets: CPU <= 1.25x the floor, wall <= 1.2x.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test servers: batch_helpers, llm_servers

_SETUP_STARTED = time.perf_counter()
import stackextract.batch  # noqa: E402
import stackextract.llm  # noqa: E402  (openai + instructor: ~1 s of import, not per document)
import stackextract.sources.fetch  # noqa: E402
from batch_helpers import PageServer, child_pids  # noqa: E402
from llm_servers import Answer, FakeLLMServer  # noqa: E402
from stackextract.batch.runner import run_batch  # noqa: E402
from stackextract.catalog.vocabulary import Catalog  # noqa: E402
from stackextract.store.database import Store  # noqa: E402

# what those libraries import on their first request, and the catalog: once per process,
# not per batch (reported as its own row, outside the timed runs)
stackextract.llm.preload()
Catalog.default()
stackextract.sources.fetch.ssl_context()
stackextract.batch.warm_up()
SETUP_S = time.perf_counter() - _SETUP_STARTED

# ../shared beside the repository (as in CI); STACKEXTRACT_SHARED points elsewhere (a worktree)
SHARED = Path(os.environ.get("STACKEXTRACT_SHARED") or ROOT.parent / "shared")
ARTICLES = SHARED / "benchmarks" / "article-extraction" / "html"

# A minimal valid extraction whose quotes occur in batch_helpers.PAGE_TEMPLATE.
PAYLOAD: dict[str, Any] = {
    "company": "Example",
    "tools": [
        {
            "name": "Django",
            "status": "uses",
            "category": "backend",
            "quote": "We run our backend on Python with Django",
        },
        {
            "name": "PostgreSQL",
            "status": "uses",
            "category": "database",
            "quote": "store everything in\nPostgreSQL",
        },
    ],
    "reasons": [],
    "regrets": [],
    "migrations": [],
}


class _Servers:
    """The page server and the model server in their own process, so that their threads do
    not compete with the batch for this process's GIL (as real servers would not)."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "_serve", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.pages_url: str = info["pages"]
        self.model_url: str = info["model"]

    def model_requests(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def request_times(self) -> list[float]:
        """When each model request arrived (time.monotonic(): one clock for every process)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("times\n")
        self.proc.stdin.flush()
        return [float(t) for t in json.loads(self.proc.stdout.readline())]

    def cpu_seconds(self) -> float:
        """CPU time the two servers have used: on this machine they share the batch's cores."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("cpu\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _serve(latency: float) -> None:
    from http.server import ThreadingHTTPServer

    # a real model server accepts a burst of connections; http.server's backlog of 5 would
    # make the 16 first requests wait for 1 s SYN retransmits
    ThreadingHTTPServer.request_queue_size = 128
    with (
        PageServer() as pages,
        FakeLLMServer([Answer("slow", payload=PAYLOAD, delay=latency)]) as model,
    ):
        print(json.dumps({"pages": pages.base_url, "model": model.base_url}), flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(model.count, flush=True)
            elif line.strip() == "times":
                print(json.dumps(model.times), flush=True)
            elif line.strip() == "cpu":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                print(usage.ru_utime + usage.ru_stime, flush=True)


def bench_llm(n: int, concurrency: int, latency: float) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    servers = _Servers(latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "llm.db"
            urls = Path(tmp) / "urls.list"
            urls.write_text("".join(f"{servers.pages_url}/page/{i}\n" for i in range(n)))
            settings: dict[str, Any] = {
                "backend": "llm",
                "base_url": servers.model_url,
                "api_key": "sk-benchmark",
                "model": "fake-model",
                "concurrency": concurrency,
                "per_host": concurrency,  # one local page server: no politeness cap needed
                "allow_private": True,
                "progress": False,
            }
            t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
            s0 = servers.cpu_seconds()
            started = time.monotonic()
            first = run_batch([urls], db=db, **settings)
            ended = time.monotonic()
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            children = _children_cpu() - k0
            server_cpu = servers.cpu_seconds() - s0
            calls_first = servers.model_requests()
            with Store(db) as store:
                counts = store.counts()
            ideal = math.ceil(n / concurrency) * latency
            arrivals = [t - started for t in servers.request_times()]
            rows += [
                ("llm: documents", f"{n} (done {first.done}, failed {first.failed})"),
                ("llm: concurrency / model latency", f"{concurrency} / {latency * 1000:.0f} ms"),
                ("llm: first run wall time", f"{elapsed:.2f} s"),
                ("llm: documents per second", f"{n / elapsed:.1f}"),
                ("llm: CPU of the batch process per document", f"{cpu / n * 1000:.1f} ms"),
                (
                    "llm: CPU of its worker + model-call processes per document",
                    f"{children / n * 1000:.1f} ms",
                ),
                (
                    "llm: CPU of the local page + model servers per document",
                    f"{server_cpu / n * 1000:.1f} ms (same 2 cores; a real endpoint is elsewhere)",
                ),
                ("llm: model requests, first run", str(calls_first)),
                ("llm: ideal ceil(N/c)*latency", f"{ideal:.2f} s"),
                ("llm: efficiency ideal/actual (>= 0.8)", f"{ideal / elapsed:.2f}"),
                *_timeline(arrivals, ended - started, concurrency, latency),
            ]
            t0 = time.perf_counter()
            second = run_batch([urls], db=db, **settings)
            elapsed2 = time.perf_counter() - t0
            with Store(db) as store:
                added = sum(store.counts().values()) - sum(counts.values())
            rows += [
                ("llm: second run wall time", f"{elapsed2:.2f} s (cached {second.cached})"),
                ("llm: second run model requests (0)", str(servers.model_requests() - calls_first)),
                ("llm: second run rows added (0)", str(added)),
            ]
    finally:
        servers.close()
    return rows


def _timeline(
    arrivals: list[float], wall: float, concurrency: int, latency: float
) -> list[tuple[str, str]]:
    """Where the wall time went, from the model server's side: before the first request,
    how full the request slots were while requests ran, and after the last answer."""
    if not arrivals:
        return []
    arrivals = sorted(arrivals)
    start, end = arrivals[0], arrivals[-1] + latency
    steps = 2000
    busy = 0
    for k in range(steps):
        t = start + (end - start) * (k + 0.5) / steps
        busy += bisect.bisect_right(arrivals, t) - bisect.bisect_right(arrivals, t - latency)
    return [
        ("llm: until the first model request", f"{start:.2f} s (fetch, clean, first call)"),
        (
            "llm: requests in flight while requests ran (mean)",
            f"{busy / steps:.1f} of {concurrency} over {end - start:.2f} s",
        ),
        ("llm: after the last answer", f"{wall - end:.2f} s (grounding, writes, shutdown)"),
    ]


class SimulatedModel:
    """An extractor that only waits `latency` seconds and returns a fixed answer: it measures
    the batch machinery (fetch, clean, cache, grounding, writer) without any client CPU."""

    name = "simulated"

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0

    def config_key(self) -> str:
        return f"simulated-{self.latency}"

    def extract(self, document: Any) -> Any:  # pragma: no cover - the batch uses aextract
        raise NotImplementedError

    async def aextract(self, document: Any) -> Any:
        import asyncio

        from stackextract.llm.schema import ExtractedStack, to_stack
        from stackextract.models import Provenance

        self.calls += 1
        await asyncio.sleep(self.latency)
        answer = ExtractedStack.model_validate(PAYLOAD)
        return to_stack(answer, document, provenance=Provenance(backend="simulated"))


def bench_simulated(n: int, concurrency: int, latency: float) -> list[tuple[str, str]]:
    servers = _Servers(latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            urls = Path(tmp) / "urls.list"
            urls.write_text("".join(f"{servers.pages_url}/page/{i}\n" for i in range(n)))
            model = SimulatedModel(latency)
            t0, c0 = time.perf_counter(), time.process_time()
            summary = run_batch(
                [urls],
                db=Path(tmp) / "sim.db",
                extractor=model,
                concurrency=concurrency,
                per_host=concurrency,
                allow_private=True,
                progress=False,
            )
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        servers.close()
    ideal = math.ceil(n / concurrency) * latency
    return [
        (
            "simulated model: wall time",
            f"{elapsed:.2f} s ({summary.done} done, {model.calls} calls)",
        ),
        ("simulated model: CPU of the batch process per doc", f"{cpu / n * 1000:.1f} ms"),
        ("simulated model: efficiency ideal/actual", f"{ideal / elapsed:.2f}"),
    ]


def _pss_mb(pid: int) -> float:
    """Proportional set size: the process's memory, shared pages split between sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fp:
            for line in fp:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree_pss_mb() -> float:
    pid = os.getpid()
    return _pss_mb(pid) + sum(_pss_mb(k) for k in child_pids(pid))


def _memory_child(n: int, base_url: str, concurrency: int) -> None:
    """Run in a fresh process: one offline batch of n pages; print peak memory as JSON."""
    import threading

    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_pss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory() as tmp:
        urls = Path(tmp) / "urls.list"
        urls.write_text("".join(f"{base_url}/page/{i}\n" for i in range(n)))
        t0 = time.perf_counter()
        summary = run_batch(
            [urls],
            db=Path(tmp) / "m.db",
            backend="offline",
            concurrency=concurrency,
            allow_private=True,
            progress=False,
        )
        elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {"parent_mb": me, "worker_mb": kids, "tree_pss_mb": peak[0]}
    print(json.dumps({**result, "s": elapsed, "done": summary.done}))


def bench_memory(sizes: list[int], concurrency: int) -> list[tuple[str, str]]:
    rows = []
    with PageServer() as pages:
        for n in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "_memory", str(n), pages.base_url, str(concurrency)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            rows.append(
                (
                    f"memory: {n} docs peak, all processes (PSS)",
                    f"{r['tree_pss_mb']:.0f} MB ({r['done']} done, "
                    f"{r['done'] / r['s']:.0f} docs/s)",
                )
            )
            rows.append(
                (
                    f"memory: {n} docs peak RSS parent / one worker",
                    f"{r['parent_mb']:.0f} MB / {r['worker_mb']:.0f} MB",
                )
            )
    return rows


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _floor_page(path: str) -> int:
    """The floor for one page: trafilatura with exactly the settings `clean_html` uses (the
    precision-first pass, and the balanced pass when that one is short), nothing else."""
    import trafilatura

    from stackextract.sources.clean import _FALLBACK, _PRIMARY, FALLBACK_MIN_CHARS

    html = Path(path).read_bytes()
    text = trafilatura.extract(html, **_PRIMARY) or ""
    if len(text) < FALLBACK_MIN_CHARS:
        other = trafilatura.extract(html, **_FALLBACK) or ""
        text = other if len(other) > len(text) else text
    return len(text)


def _floor_warm() -> None:
    """trafilatura warmed as the batch warms it before its fork (the same page, and the
    justext stop-word list of its last-resort extractor)."""
    import trafilatura
    from trafilatura import external

    from stackextract.batch.runner import _WARM_PAGE

    trafilatura.extract(_WARM_PAGE)
    if external.JT_STOPLIST is None:  # as batch.runner._warm_justext (inline: the same floor
        external.jt_stoplist_init()  # for a run of an older src/ that does not warm it)


def _floor_run(paths: list[str], workers: int) -> tuple[float, float, int]:
    """Wall and CPU (this process + its pool) of the floor over `paths` in `workers` forked
    processes, started warm, as the batch starts its own."""
    import concurrent.futures
    import multiprocessing

    _floor_warm()
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("fork")
    ) as pool:
        chars = sum(pool.map(_floor_page, paths, chunksize=1))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0 + _children_cpu() - k0
    return wall, cpu, chars


def _batch_run(
    html_dir: Path, db: Path, workers: int, concurrency: int
) -> tuple[float, float, Any]:
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    summary = run_batch(
        [html_dir],
        db=db,
        backend="offline",
        concurrency=concurrency,
        workers=workers,
        progress=False,
    )
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0 + _children_cpu() - k0
    return wall, cpu, summary


def bench_offline(concurrency: int, repeat: int) -> list[tuple[str, str]]:
    """The offline batch against its floor, alternating, `repeat` times, same workers."""
    import statistics

    pages = sorted(ARTICLES.glob("*.html.gz"))
    if not pages:
        return [("offline", f"no pages under {ARTICLES}")]
    workers = os.cpu_count() or 1
    walls: list[float] = []
    cpus: list[float] = []
    floor_walls: list[float] = []
    floor_cpus: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        html_dir = Path(tmp) / "html"
        html_dir.mkdir()
        for page in pages:
            data = gzip.decompress(page.read_bytes())
            (html_dir / page.name.removesuffix(".gz")).write_bytes(data)
        paths = [str(p) for p in sorted(html_dir.iterdir())]
        summary = None
        for i in range(repeat):
            fw, fc, _ = _floor_run(paths, workers)
            bw, bc, summary = _batch_run(html_dir, Path(tmp) / f"offline{i}.db", workers,
                                         concurrency)
            floor_walls.append(fw)
            floor_cpus.append(fc)
            walls.append(bw)
            cpus.append(bc)
    assert summary is not None
    wall_ratios = [b / f for b, f in zip(walls, floor_walls, strict=True)]
    cpu_ratios = [b / f for b, f in zip(cpus, floor_cpus, strict=True)]

    def spread(values: list[float], unit: str = "") -> str:
        return (f"median {statistics.median(values):.2f}{unit} "
                f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)")

    return [
        ("offline: pages", f"{len(pages)} (done {summary.done}, failed {summary.failed})"),
        (f"offline: floor, trafilatura with clean's settings, {workers} processes, wall",
         spread(floor_walls, " s")),
        ("offline: floor CPU, all processes", spread(floor_cpus, " s")),
        (f"offline: batch (clean+extract+ground+SQLite, {workers} workers), wall",
         spread(walls, " s")),
        ("offline: batch CPU, all processes", spread(cpus, " s")),
        ("offline: batch / floor, CPU (<= 1.25)", spread(cpu_ratios)),
        ("offline: batch / floor, wall (<= 1.2)", spread(wall_ratios)),
        ("offline: pages per second, batch", f"{len(pages) / statistics.median(walls):.1f}"),
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        _serve(float(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_memory":
        _memory_child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="llm,simulated,memory,offline")
    parser.add_argument("--n", type=int, default=200, help="documents for the llm run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.2, help="model latency, seconds")
    parser.add_argument("--memory-sizes", default="500,2000")
    parser.add_argument("--repeat", type=int, default=3, help="offline: floor/batch pairs")
    args = parser.parse_args()
    only = set(args.only.split(","))
    rows: list[tuple[str, str]] = [
        ("one-time process set-up (imports, catalog), not timed below", f"{SETUP_S:.2f} s"),
    ]
    if "llm" in only:
        rows += bench_llm(args.n, args.concurrency, args.latency)
    if "simulated" in only:
        rows += bench_simulated(args.n, args.concurrency, args.latency)
    if "memory" in only:
        sizes = [int(x) for x in args.memory_sizes.split(",")]
        rows += bench_memory(sizes, args.concurrency)
    if "offline" in only:
        rows += bench_offline(args.concurrency, args.repeat)
    width = max(len(k) for k, _ in rows)
    print(f"\n$ {Path(sys.executable).name} benchmarks/batch.py {' '.join(sys.argv[1:])}")
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
