#!/usr/bin/env python
"""Re-record the LLM cassettes in fixtures/cassettes/ against any OpenAI-compatible endpoint.

Usage (from the repository root, with the project venv):

    # 1. a local llama.cpp server with SmolLM2-135M (see scripts/local_model_server.sh)
    scripts/local_model_server.sh start            # serves http://127.0.0.1:8089/v1
    .venv/bin/python scripts/record_cassettes.py \
        --base-url http://127.0.0.1:8089/v1 --model SmolLM2-135M-Instruct --mode json_schema

    # 2. or OpenAI itself (the key is read from the environment, never written)
    OPENAI_API_KEY=sk-... .venv/bin/python scripts/record_cassettes.py \
        --model gpt-4o-mini --mode tools

    # only some documents, into another folder:
    .venv/bin/python scripts/record_cassettes.py --base-url ... --docs 004_e647f7aa724063ce.txt

    # the prompt-injection pages of fixtures/hostile/ (manifest section "hostile",
    # replayed by tests/test_injection.py; the corpus cassettes are left alone):
    .venv/bin/python scripts/record_cassettes.py --base-url ... --model ... --hostile

Each document gets `fixtures/cassettes/<stem>.yaml` (every request of every chunk, re-asks
included) and an entry in `fixtures/cassettes/manifest.json` with the settings, the prompt
version and the raw (ungrounded) tools, so the replay tests know what to expect. The host is
recorded as 127.0.0.1:8089 whatever it was, and authorization, cookies, organisation and
request-id headers are dropped (tests/llm_cassettes.py). Re-record after editing prompts/,
the LLM schema or the chunking: the request bodies change and replay no longer matches.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from llm_cassettes import CASSETTES, MANIFEST, cassette_vcr  # noqa: E402
from stackextract.errors import StackExtractError  # noqa: E402
from stackextract.llm.extractor import LLMExtractor  # noqa: E402
from stackextract.sources.load import read_file  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
HOSTILE = ROOT / "fixtures" / "hostile"
HOSTILE_DOCS = ["injection.html", "injection.md"]
DEFAULT_DOCS = [
    "004_e647f7aa724063ce.txt",
    "06_wg2-jenkins-to-concourse-2019.md",
    "10_teamdash-mysql-to-postgres-2023.md",
]
RECORDED_SETTINGS = {"chunk_tokens": 1200, "max_tokens": 4096, "max_reasks": 1, "max_retries": 0}
_CREDENTIALS = {
    "a key-shaped string": re.compile(r"\b(?:sk|key|token)-[A-Za-z0-9_\-]{6,}"),
    "a bearer credential": re.compile(r"(?i)\bbearer\s+\S"),
    "an authorization header": re.compile(r"(?i)\bauthorization\b"),
    "a cookie": re.compile(r"(?i)\b(?:set-)?cookie\b"),
}


def leaked_secrets(path: Path, keys: list[str]) -> list[str]:
    """What a written cassette holds that it must not: the key, or credential-shaped text.

    vcrpy filters headers only; an endpoint that echoes the key into a body would leak it.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    found = ["the API key"] if any(k and k in text for k in keys) else []
    return found + [what for what, pattern in _CREDENTIALS.items() if pattern.search(text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible /v1 URL")
    parser.add_argument("--model", default=None)
    parser.add_argument("--mode", default=None, help="json_schema, tools, json or md_json")
    parser.add_argument("--corpus", type=Path, default=None, help="folder of the documents")
    parser.add_argument("--docs", nargs="*", default=None, help="file names in --corpus")
    parser.add_argument("--hostile", action="store_true",
                        help="record fixtures/hostile/ pages into the manifest's 'hostile' section")
    parser.add_argument("--hints", action="store_true", help="also pass offline candidates")
    parser.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    args = parser.parse_args(argv)
    section = "hostile" if args.hostile else "documents"
    corpus = args.corpus or (HOSTILE if args.hostile else CORPUS)
    docs = args.docs or (HOSTILE_DOCS if args.hostile else DEFAULT_DOCS)

    extractor = LLMExtractor(
        base_url=args.base_url,
        model=args.model,
        mode=args.mode,
        hints=args.hints,
        timeout=args.timeout,
        total_timeout=args.timeout * 20,
        **RECORDED_SETTINGS,
    )
    CASSETTES.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"documents": {}}
    manifest.setdefault(section, {})
    manifest.update(
        {
            "model": extractor.model,
            "mode": extractor.settings.mode,
            "prompt_version": extractor.prompt_version,
            "hints": args.hints,
            "settings": RECORDED_SETTINGS,
            "recorded_with": "scripts/record_cassettes.py",
        }
    )
    recorder = cassette_vcr(record_mode="all")
    failures = 0
    for name in docs:
        doc = read_file(corpus / name)
        stem = Path(name).stem
        if section == "hostile":
            stem = "hostile_" + Path(name).name.replace(".", "_")
        cassette = f"{stem}.yaml"
        (CASSETTES / cassette).unlink(missing_ok=True)
        started = time.monotonic()
        entry: dict[str, object] = {"file": name, "cassette": cassette}
        with recorder.use_cassette(cassette):
            try:
                stack = extractor.extract(doc)
            except StackExtractError as exc:
                failures += 1
                entry.update({"error": str(exc), "attempts": exc.attempts})
                print(f"{name}: FAILED {exc}", file=sys.stderr)
            else:
                entry.update(
                    {
                        "chunks": stack.provenance.chunks,
                        "usage": stack.provenance.usage.model_dump(),
                        "company": stack.company,
                        "tools": [[t.name, t.status.value] for t in stack.tools],
                        "migrations": [[m.from_tool, m.to_tool] for m in stack.migrations],
                        "reasons": len(stack.reasons),
                        "regrets": len(stack.regrets),
                    }
                )
                usage = stack.provenance.usage
                print(f"{name}: {len(stack.tools)} tools, {usage}", file=sys.stderr)
        entry["seconds"] = round(time.monotonic() - started, 1)
        keys = [extractor.settings.api_key or "", os.environ.get("OPENAI_API_KEY", "")]
        written = CASSETTES / cassette
        leaked = leaked_secrets(written, keys) if written.exists() else []
        if leaked:
            (CASSETTES / cassette).unlink()
            failures += 1
            entry = {"file": name, "cassette": cassette, "error": f"cassette held {leaked}"}
            print(f"{name}: cassette deleted, it held {', '.join(leaked)}", file=sys.stderr)
        manifest[section][stem] = entry
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
