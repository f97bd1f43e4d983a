"""A cap on model requests in flight across a whole Ray job: one small actor hands out leases.

Each model request of every worker takes a lease before it is sent and gives it back after
(retries included, chunks each take their own), so a provider's rate limit holds for the
cluster, not per process. A worker that dies holding leases cannot give them back: a
restarted worker (same actor id, new process) registers and its dead predecessor's leases
are freed at once; any other lease expires after `lease_s` (longer than a request can take).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import ray


@ray.remote(num_cpus=0, max_concurrency=10_000)  # type: ignore[call-overload]
class RequestSlots:
    """At most `limit` leases out at once; `acquire` waits for one."""

    def __init__(self, limit: int, lease_s: float) -> None:
        self.limit = limit
        self.lease_s = lease_s
        self.held: dict[int, tuple[str, int, float]] = {}  # lease -> (owner, pid, since)
        self.ids = itertools.count(1)
        self.changed = asyncio.Condition()
        self.most = 0
        self.granted = 0
        self.expired = 0

    def _expire(self) -> None:
        now = time.monotonic()
        for lease, (_, _, since) in list(self.held.items()):
            if now - since > self.lease_s:
                del self.held[lease]
                self.expired += 1

    async def acquire(self, owner: str, pid: int) -> int:
        async with self.changed:
            while True:
                self._expire()
                if len(self.held) < self.limit:
                    lease = next(self.ids)
                    self.held[lease] = (owner, pid, time.monotonic())
                    self.granted += 1
                    self.most = max(self.most, len(self.held))
                    return lease
                with contextlib.suppress(asyncio.TimeoutError):
                    # woken by a release; the timeout lets expired leases go
                    await asyncio.wait_for(self.changed.wait(), timeout=1.0)

    async def release(self, lease: int) -> None:
        async with self.changed:
            if self.held.pop(lease, None) is not None:
                self.changed.notify()

    async def register(self, owner: str, pid: int) -> int:
        """A worker (re)started: free the leases its previous process held. Returns how many."""
        async with self.changed:
            stale = [k for k, (o, p, _) in self.held.items() if o == owner and p != pid]
            for lease in stale:
                del self.held[lease]
            self.expired += len(stale)
            self.changed.notify(len(stale))
            return len(stale)

    async def stats(self) -> dict[str, int]:
        """Leases out now, the most ever out at once, granted and reclaimed in total."""
        return {"held": len(self.held), "most": self.most, "granted": self.granted,
                "reclaimed": self.expired, "limit": self.limit}


def create_slots(limit: int, *, lease_s: float, name: str | None = None) -> Any:
    """The job's slot actor (named: another job given the same name shares the cap)."""
    options: dict[str, Any] = {}
    if name:
        options = {"name": name, "get_if_exists": True}
    return RequestSlots.options(**options).remote(limit, lease_s)  # type: ignore[attr-defined]


class ClusterGate:
    """What a worker wraps each model request in: a lease from the job's RequestSlots."""

    def __init__(self, slots: Any) -> None:
        self.slots = slots
        context = ray.get_runtime_context()
        self.owner = context.get_actor_id() or context.get_worker_id()
        self.pid = os.getpid()
        ray.get(slots.register.remote(self.owner, self.pid))

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        lease = await self.slots.acquire.remote(self.owner, self.pid)
        try:
            yield
        finally:
            # not awaited: a late release only makes the cap stricter for a moment
            self.slots.release.remote(lease)
