"""Model calls spread over processes, so a batch's client-side CPU uses every core.

A remote extractor spends a few milliseconds of CPU per document in the openai client,
instructor and pydantic. At concurrency 16 and a 200 ms model that alone fills one core, so
a single event loop cannot keep every slot busy. Each shard is a forked process with its own
event loop and its own copy of the extractor; the batch sends it documents over a pipe and
gets grounded Stacks (or the error to record) back. Sends happen on a thread per side, so a
large document never blocks an event loop and two full pipes cannot deadlock.

Only for the fork start method (Linux): elsewhere, or with one core, the batch keeps
extraction in its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any

from stackextract.errors import ExtractionError, StackExtractError, failure_fields, tag_stage
from stackextract.models import Document, Stack

_SHUTDOWN_GRACE_S = 5.0
_STOP = object()  # ends a sender thread; a None *message* tells a shard to finish


class RemoteFailure(ExtractionError):
    """An unexpected exception inside a shard, carried back as its type name and message."""

    def __init__(self, message: str, *, error_type: str, stage: str, attempts: int = 1) -> None:
        super().__init__(message, attempts=attempts)
        self.error_type = error_type
        self.stage = stage

    @property
    def kind(self) -> str:
        return self.error_type


def _send_loop(conn: Connection, outbox: queue.SimpleQueue[Any]) -> None:
    """Write every queued message until _STOP (or until the peer is gone)."""
    while True:
        item = outbox.get()
        if item is _STOP:
            return
        try:
            conn.send(item)
        except (OSError, ValueError):
            return


def exit_with_parent(parent: int) -> None:
    """End this child process when `parent` dies (SIGKILL, out of memory): an orphan would
    otherwise wait forever for work and hold the parent's stdout open."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it is ours (it pickles), a RemoteFailure otherwise."""
    if isinstance(exc, StackExtractError):
        return exc
    stage, error_type, message, _ = failure_fields(exc)
    return RemoteFailure(message, error_type=error_type, stage=stage)


def _shard_main(
    conn: Connection,
    extractor: Any,
    finish: Callable[[Stack, Document], Stack],
    parent: int,
    requests: int | None,
) -> None:
    """A shard's process: read (id, document), answer (id, ok, stack-or-error).

    `requests` caps this process's model requests in flight (its share of the batch's
    concurrency); documents beyond it wait here, ready to go the moment a request ends.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    exit_with_parent(parent)
    limit = getattr(extractor, "limit_requests", None)
    if requests is not None and callable(limit):
        limit(requests)
    asyncio.run(_serve(conn, extractor, finish))


async def _serve(
    conn: Connection, extractor: Any, finish: Callable[[Stack, Document], Stack]
) -> None:
    loop = asyncio.get_running_loop()
    prepare = getattr(extractor, "prepare", None)
    if callable(prepare):  # build the client now, while the batch fetches the first pages
        with contextlib.suppress(Exception):
            prepare(in_process=True)
    outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_loop, args=(conn, outbox), daemon=True)
    sender.start()
    closed = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(number: int, doc: Document) -> None:
        try:
            stack = await extractor.aextract(doc)
            with tag_stage("ground"):
                stack = finish(stack, doc)
            outbox.put((number, True, stack))
        except Exception as exc:
            outbox.put((number, False, _portable(exc)))

    def readable() -> None:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = None
        if message is None:
            loop.remove_reader(conn.fileno())
            closed.set()
            return
        task = loop.create_task(handle(*message))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_reader(conn.fileno(), readable)
    await closed.wait()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    outbox.put(_STOP)
    sender.join(timeout=_SHUTDOWN_GRACE_S)


def shares(total: int | None, parts: int) -> list[int | None]:
    """`total` split into `parts` whole shares that add up to it (none below 1)."""
    if total is None:
        return [None] * parts
    return [max(1, total // parts + (1 if i < total % parts else 0)) for i in range(parts)]


class _Shard:
    def __init__(self, context: Any, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.sender = threading.Thread(
            target=_send_loop, args=(self.conn, self.outbox), daemon=True
        )
        self.pending: dict[int, asyncio.Future[Stack]] = {}


class ShardPool:
    """`processes` forked shards running `extractor.aextract` + `finish` on their own loops.

    `requests` caps the model requests in flight over all shards (each gets its share, via
    the extractor's `limit_requests`). Create the pool before any thread exists (fork copies
    only the calling thread), then call `start()` inside the event loop that will await
    `extract()`.
    """

    def __init__(
        self,
        extractor: Any,
        finish: Callable[[Stack, Document], Stack],
        *,
        processes: int,
        requests: int | None = None,
    ) -> None:
        context = multiprocessing.get_context("fork")
        processes = max(1, processes if requests is None else min(processes, requests))
        self.shards = [
            _Shard(context, _shard_main, (extractor, finish, os.getpid(), share))
            for share in shares(requests, processes)
        ]
        self._numbers = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.broken: BaseException | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for shard in self.shards:
            shard.sender.start()
            self._loop.add_reader(shard.conn.fileno(), self._readable, shard)

    def _readable(self, shard: _Shard) -> None:
        try:
            number, ok, payload = shard.conn.recv()
        except (EOFError, OSError):
            self._lost(shard)
            return
        future = shard.pending.pop(number, None)
        if future is None or future.done():
            return  # its document was abandoned (second Ctrl-C)
        if ok:
            future.set_result(payload)
        else:
            future.set_exception(payload)

    def _lost(self, shard: _Shard) -> None:
        """A shard died (killed, out of memory): its documents fail, the batch stops."""
        assert self._loop is not None
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(shard.conn.fileno())
        self.broken = BrokenProcessPool(
            f"a model-call process exited (code {shard.process.exitcode}); run the batch again"
        )
        for future in shard.pending.values():
            if not future.done():
                future.set_exception(self.broken)
        shard.pending.clear()

    async def extract(self, doc: Document) -> Stack:
        """The grounded Stack of `doc` from the least busy shard; raises what the shard raised."""
        if self.broken is not None:
            raise self.broken
        assert self._loop is not None, "call start() inside the running loop first"
        shard = min(self.shards, key=lambda s: len(s.pending))
        number = next(self._numbers)
        future: asyncio.Future[Stack] = self._loop.create_future()
        shard.pending[number] = future
        shard.outbox.put((number, doc))
        try:
            return await future
        finally:
            shard.pending.pop(number, None)

    def close(self, *, abandon: bool = False) -> None:
        """Let the shards finish what they hold (or, with `abandon`, stop them now)."""
        for shard in self.shards:
            if self._loop is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_reader(shard.conn.fileno())
            if shard.sender.is_alive():
                shard.outbox.put(None)  # the shard finishes its documents and exits
                shard.outbox.put(_STOP)
            else:  # never started (the batch failed before its loop ran)
                with contextlib.suppress(OSError, ValueError):
                    shard.conn.send(None)
        deadline = time.monotonic() + (0 if abandon else _SHUTDOWN_GRACE_S)
        for shard in self.shards:
            shard.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if shard.process.is_alive():
                shard.process.terminate()
                shard.process.join(timeout=2)
            if shard.sender.is_alive():
                shard.sender.join(timeout=1)
            shard.conn.close()
