"""What the LLM backend sends and what each request costs the client, against a fake model.

    .venv/bin/python benchmarks/llm_calls.py [--corpus ../shared/corpus] [--requests 400]

- tokens: the labelled writeups (those with a gold file in ../shared/gold) through
  `LLMExtractor.extract` against a local OpenAI-compatible server that answers at once, with
  the default settings of three endpoints (OpenAI's default model, a local server with its
  default 8k context, a tiny 4k-context model). Tokens are estimated as the project chunks
  them (4 characters a token): what a request carries (every message, plus the response
  schema or tool definition) against the documents' own text. Target (default model):
  tokens sent <= 1.4x the documents' tokens.
- client CPU: `aextract` of one short document `--requests` times, 16 at a time, in this
  process (the server runs in another one): CPU per request of openai + instructor +
  pydantic + our request building and parsing. Target <= 10 ms per document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

SHARED = Path(os.environ.get("STACKEXTRACT_SHARED") or ROOT.parent / "shared")


def _request_tokens(body: dict[str, Any]) -> int:
    from stackextract.llm.chunking import estimate_tokens

    text = "".join(str(m.get("content") or "") for m in body.get("messages", []))
    schema = {k: body[k] for k in ("response_format", "tools", "functions") if k in body}
    return estimate_tokens(text) + estimate_tokens(json.dumps(schema)) if schema else \
        estimate_tokens(text)


def bench_tokens(corpus: Path, gold: Path) -> list[tuple[str, str]]:
    from llm_servers import FakeLLMServer, ok
    from stackextract.llm.chunking import estimate_tokens
    from stackextract.llm.extractor import LLMExtractor
    from stackextract.sources.load import read_file

    labelled = {p.stem for p in gold.glob("*.json")}
    files = sorted(p for p in corpus.iterdir() if p.is_file() and p.stem in labelled)
    docs = [read_file(p) for p in files]
    own = sum(estimate_tokens(d.text) for d in docs)
    rows = [("tokens: labelled writeups", f"{len(docs)} ({own} tokens of text, chars/4)")]
    setups = {
        "OpenAI default (gpt-4o-mini, 128k context)": {"api_key": "sk-bench"},
        "local server, default 8k context": {"model": "local"},
        "tiny local model, 4k context": {"model": "local", "context_tokens": 4096,
                                         "max_tokens": 2048},
    }
    from stackextract.errors import ConfigError

    for label, settings in setups.items():
        with FakeLLMServer([ok()]) as server:
            base = {"base_url": server.base_url} if "api_key" not in settings else {}
            try:
                extractor = LLMExtractor(**base, **settings, max_retries=0)
            except ConfigError as exc:  # an older version without the setting
                rows.append((f"tokens: {label}", f"not run: {exc}"))
                continue
            if "api_key" in settings:  # OpenAI's settings, sent to the local fake server
                extractor = LLMExtractor(settings=extractor.settings.with_(
                    base_url=server.base_url))
            for doc in docs:
                extractor.extract(doc)
            sent = sum(_request_tokens(body) for body in server.requests)
            calls = len(server.requests)
            fixed = (sent - sum(
                estimate_tokens(str(b["messages"][-1]["content"])) for b in server.requests
            )) / max(1, calls)
        rows += [
            (f"tokens: {label}: chunk size / calls",
             f"{extractor.settings.chunk_tokens} / {calls}"),
            (f"tokens: {label}: sent / documents' own (<= 1.4)",
             f"{sent} / {own} = {sent / own:.2f}x (fixed part {fixed:.0f} a call)"),
        ]
    return rows


def bench_client_cpu(requests: int, concurrency: int) -> list[tuple[str, str]]:
    from batch import _Servers
    from stackextract.llm.extractor import LLMExtractor
    from stackextract.models import Document

    servers = _Servers(0.0)
    try:
        extractor = LLMExtractor(base_url=servers.model_url, api_key="sk-bench",
                                 model="fake-model", max_retries=3)
        extractor.prepare(in_process=True)
        doc = Document(text="We run our backend on Python with Django and keep everything in "
                            "PostgreSQL. " * 4, title="Our stack")

        async def run(n: int) -> None:
            gate = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with gate:
                    await extractor.aextract(doc)

            await asyncio.gather(*(one() for _ in range(n)))

        asyncio.run(run(min(50, requests)))  # warm: first-use imports, connections
        samples = []
        for _ in range(3):
            c0, t0 = time.process_time(), time.perf_counter()
            asyncio.run(run(requests))
            samples.append(((time.process_time() - c0) / requests * 1000,
                            requests / (time.perf_counter() - t0)))
    finally:
        servers.close()
    cpu = statistics.median(s[0] for s in samples)
    rate = statistics.median(s[1] for s in samples)
    return [
        ("client CPU per request (<= 10 ms), median of 3", f"{cpu:.1f} ms ({requests} requests, "
                                                          f"{concurrency} at a time)"),
        ("requests per second, one process", f"{rate:.0f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--gold", type=Path, default=SHARED / "gold")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", default="tokens,cpu")
    args = parser.parse_args()
    only = set(args.only.split(","))
    rows: list[tuple[str, str]] = []
    if "tokens" in only:
        rows += bench_tokens(args.corpus, args.gold)
    if "cpu" in only:
        rows += bench_client_cpu(args.requests, args.concurrency)
    width = max(len(k) for k, _ in rows)
    print(f"\n$ {Path(sys.executable).name} benchmarks/llm_calls.py {' '.join(sys.argv[1:])}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
