"""robots.txt: fetched once per site (through the same SSRF guard as pages), then obeyed.

RFC 9309 rules: a 4xx answer (no robots.txt) allows everything; a 5xx or an unreachable
server disallows everything for now (a transient failure: a later run asks again); the rules
of the group that names our user agent apply, else those of `*`. Parsing is protego's.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
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


class SiteRules:
    """What each site's robots.txt says, for the concurrent requests of one event loop:
    the file is read once per site however many requests ask at the same time (`read`
    fetches it, or takes a stored answer), and its Crawl-delay is left between two requests
    to the site, which take turns for it. Used by `stackextract batch` and the Ray actors."""

    def __init__(self, read: Callable[[str], Awaitable[Robots]], user_agent: str) -> None:
        self._read = read
        self.user_agent = user_agent
        self._files: dict[str, asyncio.Task[Robots]] = {}
        self._next_at: dict[str, float] = defaultdict(float)  # host -> earliest next request
        self._pace: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def allowed(self, url: str) -> bool:
        """robots.txt says yes to `url` for our user agent (read on the site's first ask)."""
        origin = origin_of(url)
        task = self._files.get(origin)
        if task is None:
            task = self._files[origin] = asyncio.ensure_future(self._read(origin))
        robots = await asyncio.shield(task)
        return bool(robots.allowed(url, self.user_agent))

    async def wait_turn(self, url: str) -> None:
        """Before a request to `url`: wait out the site's Crawl-delay since the last one
        (nothing when its robots.txt is not read yet, could not be read, or asks none)."""
        task = self._files.get(origin_of(url))
        if task is None or not task.done() or task.exception() is not None:
            return
        delay = task.result().crawl_delay(self.user_agent)
        if delay <= 0:
            return
        host = urlsplit(url).netloc
        async with self._pace[host]:
            wait = self._next_at[host] - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_at[host] = time.monotonic() + delay


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
