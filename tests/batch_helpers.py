"""Test helpers for store, export, batch and docs tests: hand-built records, page server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from stackextract.models import (
    Category,
    Document,
    Evidence,
    Migration,
    Provenance,
    Reason,
    Regret,
    Stack,
    Status,
    Tool,
)

TEXT = (
    "We run everything on Postgres and Redis. We moved from MongoDB to Postgres in 2021 "
    "because joins were painful. I would not pick Vue again; React would be my choice. "
    "We like Postgres because it is boring."
)


def ev(text: str, quote: str) -> Evidence:
    start = text.find(quote)
    return Evidence(
        quote=quote, start=start, end=start + len(quote), grounded=start >= 0, match="exact"
    )


def make_document(
    url: str = "https://example.com/stack", text: str = TEXT, **kw: object
) -> Document:
    return Document(text=text, url=url, title="Our stack", author="Ann", format="html", **kw)


def make_stack(doc: Document, *, backend: str = "offline", company: str = "Example") -> Stack:
    t = doc.text
    return Stack(
        source=doc.to_source(),
        company=company,
        tools=[
            Tool(
                name="Postgres",
                canonical="PostgreSQL",
                category=Category.database,
                status=Status.uses,
                evidence=[ev(t, "We run everything on Postgres")],
            ),
            Tool(
                name="Redis",
                canonical="Redis",
                category=Category.cache,
                evidence=[ev(t, "Postgres and Redis")],
            ),
            Tool(
                name="MongoDB",
                canonical="MongoDB",
                category=Category.database,
                status=Status.used_previously,
                evidence=[ev(t, "We moved from MongoDB to Postgres")],
            ),
            Tool(
                name="Vue",
                canonical="Vue.js",
                category=Category.frontend,
                status=Status.used_previously,
                evidence=[Evidence(quote="not in the text"), ev(t, "I would not pick Vue again")],
            ),
        ],
        reasons=[
            Reason(
                tool="Postgres",
                text="boring",
                evidence=[ev(t, "We like Postgres because it is boring.")],
            )
        ],
        regrets=[
            Regret(
                tool="Vue",
                text="would not pick again",
                would_instead="React",
                evidence=[ev(t, "I would not pick Vue again")],
            )
        ],
        migrations=[
            Migration(
                from_tool="MongoDB",
                to_tool="PostgreSQL",
                reasons=["joins were painful"],
                evidence=[ev(t, "We moved from MongoDB to Postgres in 2021")],
            )
        ],
        provenance=Provenance(backend=backend, model=None, prompt_version="p1"),
    )


# --- a page server for batch tests and benchmarks ----------------------------------------

PAGE_TEMPLATE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Engineering at Example {i}: our stack</title></head><body>
<nav>Home | Blog | Jobs</nav><article><h1>Our stack, part {i}</h1>
<p>Post number {i}. We run our backend on Python with Django and store everything in
PostgreSQL. Redis holds our sessions and caches, and Celery runs background jobs.</p>
<p>In 2019 we moved from Jenkins to GitHub Actions because Jenkins was painful to maintain.
We chose Terraform because it lets us review infrastructure changes like code.</p>
<p>Looking back, I regret choosing MongoDB for the first version; I would pick PostgreSQL
from the start. The frontend is React with TypeScript, deployed on AWS.</p>
</article><footer>Copyright Example Inc.</footer></body></html>"""


# A model answer whose quotes occur in PAGE_TEMPLATE (for a fake model server).
PAGE_PAYLOAD: dict[str, object] = {
    "company": "Example",
    "tools": [
        {"name": "Django", "status": "uses", "category": "backend",
         "quote": "We run our backend on Python with Django"},
        {"name": "PostgreSQL", "status": "uses", "category": "database",
         "quote": "store everything in\nPostgreSQL"},
    ],
    "reasons": [],
    "regrets": [],
    "migrations": [],
}


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc): a batch's workers."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def page_html(i: int) -> bytes:
    return PAGE_TEMPLATE.format(i=i).encode()


class _Server(ThreadingHTTPServer):
    # the default listen backlog of 5 drops connections when 16+ clients connect at once,
    # and each dropped SYN costs the client a 1 s retransmit
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a timeout test) is expected here: stay quiet."""


class PageServer:
    """A threaded 127.0.0.1 server: /page/<i> is a stack writeup, /missing a 404, /error a 500.

    `delay` slows every page response (seconds), so a run can be killed mid-way.
    `robots` is served as /robots.txt when set (else it is a 404, like a site without one).
    Pages carry an ETag and a Last-Modified date and answer a matching conditional
    request with 304; `times` and `agents` record when and by whom each path was asked.
    """

    def __init__(self, *, delay: float = 0.0, robots: str | None = None,
                 host: str = "127.0.0.1") -> None:
        self.delay = delay
        self.robots = robots
        self.host = host  # another loopback address (127.0.0.2, ...) is another site
        self.connections = 0  # TCP connections accepted
        self.broken: set[str] = set()  # paths that answer 500 for now
        self.gone: set[str] = set()  # paths that answer 410
        self.hits: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}
        self.agents: list[str] = []
        self.not_modified = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms), which real servers do not add to every response
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with outer._lock:
                    outer.connections += 1

            def do_GET(self) -> None:
                with outer._lock:
                    outer.hits[self.path] += 1
                    outer.times.setdefault(self.path, []).append(time.monotonic())
                    outer.agents.append(self.headers.get("User-Agent", ""))
                if self.path == "/robots.txt" and outer.robots is not None:
                    self._send(200, outer.robots.encode(), "text/plain; charset=utf-8")
                    return
                etag = f'"v1-{self.path}"'
                if self.path.startswith("/page/") and self.headers.get("If-None-Match") == etag:
                    with outer._lock:
                        outer.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if outer.delay and self.path != "/robots.txt":
                    time.sleep(outer.delay)
                extra: list[tuple[str, str]] = []
                if self.path in outer.broken:
                    body, code = b"down for now", 503
                elif self.path in outer.gone:
                    body, code = b"gone", 410
                elif self.path.startswith("/page/"):
                    body, code = page_html(int(self.path.rsplit("/", 1)[1])), 200
                    extra = [("ETag", etag), ("Last-Modified", "Mon, 01 Jun 2026 10:00:00 GMT")]
                elif self.path == "/error":
                    body, code = b"oops", 500
                else:
                    body, code = b"not found", 404
                kind = "text/html; charset=utf-8" if code == 200 else "text/plain"
                self._send(code, body, kind, extra)

            def _send(self, code: int, body: bytes, kind: str,
                      extra: list[tuple[str, str]] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                for name, value in extra or []:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _Server((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def url(self, i: int) -> str:
        return f"{self.base_url}/page/{i}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _main(argv: list[str]) -> int:
    """`python tests/batch_helpers.py DB SOURCE... [--concurrency N] [--model-url URL]`:
    a batch in a subprocess, offline or (with --model-url) against a local model server."""
    import json

    from stackextract.batch.runner import run_batch

    def option(name: str, default: str | None) -> str | None:
        if name not in argv:
            return default
        i = argv.index(name)
        value = argv[i + 1]
        del argv[i : i + 2]
        return value

    concurrency = int(option("--concurrency", "2") or 2)
    model_url = option("--model-url", None)
    backend: dict[str, str] = {"backend": "offline"}
    if model_url:
        backend = {"backend": "llm", "base_url": model_url, "api_key": "sk-test", "model": "m"}
    db, *sources = argv
    summary = run_batch(
        sources,
        db=db,
        concurrency=concurrency,
        allow_private=True,
        progress=False,
        fetch_options={"retries": 0},
        **backend,
    )
    print(json.dumps(summary.as_dict()), flush=True)
    return summary.exit_code


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
