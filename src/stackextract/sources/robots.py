"""robots.txt: fetched once per site (through the same SSRF guard as pages), then obeyed.

RFC 9309 rules: a 4xx answer (no robots.txt) allows everything; a 5xx or an unreachable
server disallows everything for now (a transient failure: a later run asks again); the rules
of the group that names our user agent apply, else those of `*`. Parsing is protego's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from stackextract.errors import FetchError

MAX_ROBOTS_BYTES = 512_000  # Google reads the first 500 KiB
MAX_CRAWL_DELAY = 60.0  # seconds; a longer Crawl-delay is honoured as this


@dataclass(frozen=True)
class RobotsFile:
    """What a site answered for /robots.txt: its status and body ('' when absent)."""

    origin: str
    status_code: int
    body: str

    def parsed(self) -> Robots:
        return Robots(self)


class Robots:
    """The rules of one site for one user agent."""

    def __init__(self, file: RobotsFile) -> None:
        self.file = file
        self._parser: Any = None
        if 200 <= file.status_code < 300 and file.body.strip():
            from protego import Protego

            self._parser = Protego.parse(file.body)

    def allowed(self, url: str, user_agent: str) -> bool:
        if self._parser is None:
            return True
        return bool(self._parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float:
        """Seconds to leave between two requests to this site (0 when none is asked)."""
        if self._parser is None:
            return 0.0
        delay = self._parser.crawl_delay(user_agent)
        try:
            value = float(delay) if delay is not None else 0.0
        except (TypeError, ValueError):
            return 0.0
        return min(max(value, 0.0), MAX_CRAWL_DELAY)


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: robots.txt belongs to exactly that."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


async def afetch_robots(origin: str, *, client: Any, **fetch_options: Any) -> RobotsFile:
    """GET origin/robots.txt with the page fetcher (guard, timeouts, size cap, retries).

    Raises FetchError when the site cannot say (5xx, network): then nothing may be fetched.
    """
    from stackextract.sources.fetch import afetch

    options = dict(fetch_options)
    options["max_bytes"] = min(int(options.get("max_bytes", MAX_ROBOTS_BYTES)),
                               MAX_ROBOTS_BYTES)
    try:
        result = await afetch(f"{origin}/robots.txt", client=client, **options)
    except FetchError as exc:
        code = exc.status_code
        if code is not None and 400 <= code < 500:
            return RobotsFile(origin, code, "")
        if code is None and "content type" in str(exc):
            return RobotsFile(origin, 200, "")  # not a text file: there are no rules in it
        if "larger than" in str(exc):
            return RobotsFile(origin, 200, "")  # over the cap: treat as absent, as Google
        raise FetchError(
            f"robots.txt of {origin} could not be read ({exc}); nothing on that site is "
            "fetched until it can (or pass --ignore-robots for your own site)",
            url=origin, attempts=exc.attempts,
        ) from exc
    return RobotsFile(origin, result.status_code, result.text)
