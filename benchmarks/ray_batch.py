"""Ray engine benchmark: documents per second through Ray vs run_batch, fixed start-up cost,
import speed, and model tokens per document (for docs/scale.md).

    .venv/bin/python benchmarks/ray_batch.py                # about 3 minutes
    .venv/bin/python benchmarks/ray_batch.py --n 400 --only llm

- llm: N pages from a local page server, llm backend against a local OpenAI-compatible
  server answering after a fixed latency (both servers in their own process, as in
  benchmarks/batch.py). run_batch with concurrency C, then the same documents through a
  local Ray cluster (2 CPUs: 2 actors with C/2 documents each, a cluster-wide cap of C
  model requests). The Ray job's fixed cost is measured as a 1-document job on the warm
  cluster (actor start, worker set-up, Parquet write); "steady" = N / (wall - fixed).
- offline: the same pages with the offline backend (CPU-bound: clean + extract + ground).
- import: the Ray job's Parquet parts into a fresh SQLite store.
- tokens: model tokens per document, from the usage the recorded cassettes
  (fixtures/cassettes/manifest.json, a real model server) measured per chunk, times the
  chunks of every document of ../shared/corpus.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from batch import PAYLOAD, _Servers  # noqa: E402  (the servers of benchmarks/batch.py)
from stackextract.batch.runner import run_batch  # noqa: E402


def _urls(base: str, n: int) -> list[str]:
    return [f"{base}/page/{i}" for i in range(n)]


def bench(
    n: int, concurrency: int, latency: float, only: set[str], repeat: int
) -> list[tuple[str, str]]:
    import ray

    from stackextract.ray.dataset import run_job
    from stackextract.ray.parts import import_parts

    assert PAYLOAD  # the model server answers with it
    rows: list[tuple[str, str]] = []
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    rows.append(("ray.init(num_cpus=2), local cluster", f"{time.perf_counter() - t0:.2f} s"))
    servers = _Servers(latency)
    quiet = {"progress": False, "stream": io.StringIO()}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            llm = {"backend": "llm", "base_url": servers.model_url, "api_key": "sk-bench",
                   "model": "fake-model"}
            per_actor = max(1, concurrency // 2)
            backends: list[tuple[str, dict[str, Any]]] = []
            if "llm" in only:
                backends.append(("llm", llm))
            if "offline" in only:
                backends.append(("offline", {"backend": "offline"}))
            for label, settings in backends:
                urls = _urls(servers.pages_url, n)
                listing = Path(tmp) / f"{label}.list"
                listing.write_text("\n".join(urls) + "\n")
                t0 = time.perf_counter()
                local = run_batch([listing], db=Path(tmp) / f"{label}-local.db",
                                  concurrency=concurrency, per_host=concurrency,
                                  allow_private=True, progress=False, **settings)
                local_s = time.perf_counter() - t0
                cap = {"max_model_requests": concurrency} if label == "llm" else {}
                fixed, walls = [], []
                for k in range(repeat):
                    # the fixed cost: a job of one document on the warm cluster
                    one = [f"{servers.pages_url}/page/{n + 1 + k}"]
                    t0 = time.perf_counter()
                    run_job(one, out=Path(tmp) / f"{label}-one-{k}", allow_private=True,
                            concurrency=per_actor, per_host=per_actor, **settings, **quiet)
                    fixed.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    job = run_job([listing], out=Path(tmp) / f"{label}-parts-{k}",
                                  allow_private=True, concurrency=per_actor,
                                  per_host=per_actor, **cap, **settings, **quiet)
                    walls.append(time.perf_counter() - t0)
                fixed_s, ray_s = min(fixed), min(walls)
                rows += [
                    (f"{label}: documents", f"{n} (run_batch done {local.done}, "
                                            f"ray done {job.done}, failed {job.failed})"),
                    (f"{label}: run_batch, concurrency {concurrency}",
                     f"{local_s:.2f} s = {n / local_s:.1f} docs/s"),
                    (f"{label}: ray job of 1 document (fixed cost), best of {repeat}",
                     f"{fixed_s:.2f} s (all: {', '.join(f'{x:.1f}' for x in fixed)})"),
                    (f"{label}: ray job, 2 actors x {per_actor}"
                     + (f", cap {concurrency} requests" if cap else "") + f", best of {repeat}",
                     f"{ray_s:.2f} s = {n / ray_s:.1f} docs/s "
                     f"(all: {', '.join(f'{x:.1f}' for x in walls)})"),
                    (f"{label}: ray steady rate N / (wall - fixed)",
                     f"{n / max(ray_s - fixed_s, 1e-9):.1f} docs/s"),
                ]
                if label == "llm":
                    rows.append(("llm: model latency", f"{latency * 1000:.0f} ms"))
                    rows.append(("llm: ideal ceil(N/C)*latency",
                                 f"{-(-n // concurrency) * latency:.2f} s"))
                t0 = time.perf_counter()
                imported = import_parts([Path(tmp) / f"{label}-parts-0"],
                                        db=Path(tmp) / f"{label}-ray.db")
                import_s = time.perf_counter() - t0
                rows.append((f"{label}: import of the parts into SQLite",
                             f"{import_s:.2f} s = {imported.stored / import_s:.0f} docs/s "
                             f"({imported.stored} stored)"))
    finally:
        servers.close()
        ray.shutdown()
    return rows


_CORPUS: list[Path] = []


def _shared_corpus() -> Path:
    """../shared/corpus beside the checkout (a worktree's is two levels up), else fixtures."""
    candidates = [*_CORPUS, ROOT.parent / "shared" / "corpus",
                  ROOT.parent.parent / "shared" / "corpus", ROOT / "fixtures" / "corpus"]
    return next((c for c in candidates if c.is_dir()), candidates[-1])


def tokens() -> list[tuple[str, str]]:
    """Tokens per document from measured usage per chunk and the corpus' chunk counts."""
    from stackextract.llm.chunking import chunk_text
    from stackextract.sources.load import read_file

    manifest = json.loads((ROOT / "fixtures" / "cassettes" / "manifest.json").read_text())
    docs = manifest["documents"].values()
    chunks = sum(d["chunks"] for d in docs)
    prompt = sum(d["usage"]["prompt_tokens"] for d in docs) / chunks
    completion = sum(d["usage"]["completion_tokens"] for d in docs) / chunks
    corpus = sorted(p for p in _shared_corpus().iterdir() if p.is_file())
    # the text the model is sent: each file read and cleaned as batch reads it
    per_doc = [len(chunk_text(read_file(p).text)) for p in corpus]
    if not per_doc:
        raise SystemExit("no corpus found: give --corpus (e.g. ../shared/corpus)")
    mean_chunks = statistics.mean(per_doc)
    return [
        ("tokens: measured per chunk (cassettes, model "
         f"{manifest.get('model')}, {chunks} chunks)",
         f"{prompt:.0f} prompt + {completion:.0f} completion"),
        (f"tokens: chunks per document, {len(per_doc)} documents of {_shared_corpus().name}"
         " (chunk_tokens 1200)",
         f"mean {mean_chunks:.2f}, max {max(per_doc)}"),
        ("tokens: per document (mean chunks x per chunk)",
         f"{mean_chunks * prompt:.0f} prompt + {mean_chunks * completion:.0f} completion"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--only", default="llm,offline,tokens")
    parser.add_argument("--repeat", type=int, default=2, help="Ray jobs per figure")
    parser.add_argument("--corpus", type=Path, default=None, help="documents for tokens")
    args = parser.parse_args()
    if args.corpus:
        _CORPUS.append(args.corpus)
    only = set(args.only.split(","))
    rows: list[tuple[str, str]] = []
    if only & {"llm", "offline"}:
        rows += bench(args.n, args.concurrency, args.latency, only, args.repeat)
    if "tokens" in only:
        rows += tokens()
    width = max(len(k) for k, _ in rows)
    print(f"\n$ {Path(sys.executable).name} benchmarks/ray_batch.py {' '.join(sys.argv[1:])}")
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
