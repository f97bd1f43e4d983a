"""vcrpy settings shared by the cassette tests and scripts/record_cassettes.py.

Requests are matched on method, path and (JSON-parsed) body, never on host or port, and
recorded with the host rewritten to RECORD_HOST, so replay works whatever the recording
server's address was. Authorization, cookies, organisation/project ids, request ids and the
client's platform headers are removed before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import vcr

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "fixtures" / "cassettes"
MANIFEST = CASSETTES / "manifest.json"
RECORD_HOST = "127.0.0.1:8089"
# Replay on a port where nothing listens: vcrpy answers, matched on path and body only.
REPLAY_BASE_URL = "http://127.0.0.1:9/v1"
DUMMY_KEY = "sk-test-not-a-real-key"

REQUEST_HEADERS_KEPT = {"content-type", "accept"}
RESPONSE_HEADERS_KEPT = {"content-type", "content-length"}


def _scrub_request(request: Any) -> Any:
    parts = urlsplit(request.uri)
    request.uri = urlunsplit((parts.scheme or "http", RECORD_HOST, parts.path, parts.query, ""))
    for name in list(request.headers):
        if name.lower() not in REQUEST_HEADERS_KEPT:
            del request.headers[name]
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    response["headers"] = {
        k: v for k, v in headers.items() if k.lower() in RESPONSE_HEADERS_KEPT
    }
    return response


def cassette_vcr(record_mode: str = "none") -> vcr.VCR:
    """The VCR used to record ("all") and to replay ("none") the LLM cassettes."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode,
        match_on=["method", "path", "body"],
        filter_headers=["authorization", "cookie", "openai-organization", "openai-project"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


def load_manifest() -> dict[str, Any]:
    """What was recorded: model, mode, prompt version, settings and raw results per document."""
    return json.loads(MANIFEST.read_text(encoding="utf-8"))
