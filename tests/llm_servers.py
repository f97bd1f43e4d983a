"""A scriptable OpenAI-compatible server on 127.0.0.1 for the LLM error paths.

`FakeLLMServer` answers POST /v1/chat/completions with the next scripted `Answer`
(the last one repeats when the script runs out) and records every request body. It is a
real threaded http.server, so the openai client, httpx and the retry code run for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VALID_STACK: dict[str, Any] = {
    "company": "Luma",
    "tools": [
        {
            "name": "Next.js",
            "status": "uses",
            "category": "frontend",
            "quote": "We're really happy with where Next.js is today",
        },
        {
            "name": "CSS Modules",
            "status": "used_previously",
            "category": "frontend",
            "quote": "We started with CSS Modules",
        },
    ],
    "reasons": [],
    "regrets": [],
    "migrations": [
        {
            "from_tool": "CSS Modules",
            "to_tool": "styled-jsx",
            "why": ["a CSS file for every JS file"],
            "quote": "We started with CSS Modules but it was frustrating",
        }
    ],
}


@dataclass
class Answer:
    """One scripted reply.

    kind: "ok" (content = JSON of `payload`), "status" (HTTP `status`, optional
    `headers`), "slow" (ok after `delay` s), "hang" (never answers until the server stops),
    "invalid_body" (200 with a non-JSON body), "content" (200 with `content` as the
    message text), "length" (finish_reason length), "refusal", "empty_choices".
    """

    kind: str = "ok"
    payload: dict[str, Any] | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content: str | None = None
    refusal: str = "I can't help with that."


def ok(payload: dict[str, Any] | None = None) -> Answer:
    return Answer("ok", payload=payload)


def status(code: int, headers: dict[str, str] | None = None) -> Answer:
    return Answer("status", status=code, headers=dict(headers or {}))


def completion(
    content: str | None,
    *,
    finish_reason: str = "stop",
    refusal: str | None = None,
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
) -> dict[str, Any]:
    """A chat.completion body as OpenAI sends it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _tool_call_completion(arguments: str, finish_reason: str) -> dict[str, Any]:
    body = completion(None, finish_reason=finish_reason)
    body["choices"][0]["message"]["tool_calls"] = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "ExtractedStack", "arguments": arguments},
        }
    ]
    return body


class FakeLLMServer:
    """Start with `with FakeLLMServer([...]) as server:`; `server.base_url` ends in /v1."""

    def __init__(self, script: list[Answer] | None = None, *, count_tokens: bool = False) -> None:
        """`count_tokens=True` reports usage measured on what was sent and answered (about
        4 characters a token, the request body as received and the answer's content), as a
        real endpoint's tokenizer would, instead of fixed numbers."""
        self.count_tokens = count_tokens
        self.usage: list[tuple[int, int]] = []  # (prompt, completion) tokens per answer
        self.script = list(script or [ok()])
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most "slow" answers being prepared at the same time
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.times.append(time.monotonic())
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms), which real servers do not add to every response
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send(404, b'{"error": {"message": "not found"}}')
                    return
                body = json.loads(raw or b"{}")
                answer = server._next(body, dict(self.headers))
                self.request_size = len(raw)  # for count_tokens
                server._answer(self, answer, body)

        return Handler

    def _answer(self, handler: Any, answer: Answer, body: dict[str, Any]) -> None:
        tools_mode = "tools" in body
        size = int(getattr(handler, "request_size", 0))
        payload = json.dumps(answer.payload or VALID_STACK)

        def content_reply(content: str | None, finish_reason: str = "stop") -> bytes:
            if tools_mode and content is not None:
                reply = _tool_call_completion(content, finish_reason)
            else:
                reply = completion(content, finish_reason=finish_reason)
            if self.count_tokens:
                prompt, done = -(-size // 4), -(-len(content or "") // 4)
                reply["usage"] = {"prompt_tokens": prompt, "completion_tokens": done,
                                  "total_tokens": prompt + done}
                with self._lock:
                    self.usage.append((prompt, done))
            return json.dumps(reply).encode()

        kind = answer.kind
        if kind == "status":
            message = {429: "rate limited", 500: "internal error", 503: "overloaded"}
            err = {"error": {"message": message.get(answer.status, "error"), "type": "test"}}
            handler.send(answer.status, json.dumps(err).encode(), answer.headers)
        elif kind == "hang":
            self._stop.wait(30)
        elif kind == "slow":
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            time.sleep(answer.delay)
            with self._lock:
                self.in_flight -= 1
            handler.send(200, content_reply(payload))
        elif kind == "invalid_body":
            handler.send(200, b'{"id": "chatcmpl-test", "choices": [')
        elif kind == "content":
            handler.send(200, content_reply(answer.content))
        elif kind == "length":
            handler.send(200, content_reply(payload[: len(payload) // 2], "length"))
        elif kind == "refusal":
            handler.send(200, json.dumps(completion(None, refusal=answer.refusal)).encode())
        elif kind == "empty_choices":
            reply = completion("{}")
            reply["choices"] = []
            handler.send(200, json.dumps(reply).encode())
        else:
            handler.send(200, content_reply(payload))

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_llm(*answers: Answer) -> Iterator[FakeLLMServer]:
    """A running FakeLLMServer with the given script (default: one valid answer, repeated)."""
    with FakeLLMServer(list(answers) or None) as server:
        yield server


def _parse_answer(spec: str) -> Answer:
    """`ok`, `429`, `429:retry-after=1`, `500`, `slow:2`, `hang`, `length`, `refusal`, ..."""
    kind, _, arg = spec.partition(":")
    if kind.isdigit():
        headers = {}
        if arg.startswith("retry-after="):
            headers["Retry-After"] = arg.split("=", 1)[1]
        return status(int(kind), headers)
    if kind == "slow":
        return Answer("slow", delay=float(arg or 1))
    if kind == "content":
        return Answer("content", content=arg)
    return Answer(kind)


def main(argv: list[str] | None = None) -> None:
    """Serve a script by hand, e.g. to watch the CLI retry:

    python tests/llm_servers.py --port 8090 429:retry-after=0
    stackextract extract FILE --backend llm --base-url http://127.0.0.1:8090/v1
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("answers", nargs="*", default=["ok"], help="the last one repeats")
    args = parser.parse_args(argv)
    server = FakeLLMServer([_parse_answer(a) for a in args.answers])
    server._server.server_close()
    server._server = ThreadingHTTPServer(("127.0.0.1", args.port), server._handler())
    print(f"serving {args.answers} on {server.base_url}", flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        print(f"{server.count} request(s)")


if __name__ == "__main__":
    main()
