"""A bound on the work one document may cost a worker process: time and memory.

Under the 10 MB size cap a page can still hold a worker for minutes and gigabytes (300k
attributes, a million tags, one 9.5 MB line). Each task in a worker runs under
`run_within_budget`: past `seconds` a SIGALRM handler stops it between two bytecodes (a
clean BudgetError, the worker goes on); past twice that in CPU time (code that never returns
to the interpreter) the kernel ends the worker (RLIMIT_CPU); an address space over `megabytes`
more than at the start of the task makes allocations fail (RLIMIT_AS: MemoryError, reported
as a BudgetError). The batch replaces a killed worker and records the document as a failure
with its stage and the reason.

Settings: STACKEXTRACT_WORKER_TIMEOUT (seconds, default 120) and STACKEXTRACT_WORKER_MEMORY
(MB, default 2048); 0 turns a bound off.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackextract.errors import ConfigError, StackExtractError

TIMEOUT_ENV = "STACKEXTRACT_WORKER_TIMEOUT"
MEMORY_ENV = "STACKEXTRACT_WORKER_MEMORY"
DEFAULT_SECONDS = 120.0
DEFAULT_MEGABYTES = 2048
_VERBS = {"clean": "clean", "input": "read and clean", "extract": "extract"}


class BudgetError(StackExtractError):
    """One document needed more time or memory than a worker may give it."""

    def __init__(self, message: str, stage: str = "clean") -> None:
        super().__init__(message)
        self.stage = stage

    def __reduce__(self) -> Any:  # pickled back from the worker with its stage
        return (type(self), (str(self), self.stage))


@dataclass(frozen=True)
class Budget:
    seconds: float = DEFAULT_SECONDS
    megabytes: int = DEFAULT_MEGABYTES

    @classmethod
    def from_env(cls) -> Budget:
        def number(name: str, default: float) -> float:
            raw = os.environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if value < 0:
                raise ConfigError(f"{name}={raw!r} is not a number of 0 or more (0: no bound)")
            return value

        return cls(number(TIMEOUT_ENV, DEFAULT_SECONDS), int(number(MEMORY_ENV,
                                                                     DEFAULT_MEGABYTES)))

    def killed(self, stage: str) -> BudgetError:
        """The failure of a document whose worker had to be ended (it went over its budget
        where no handler could stop it, or ran out of memory)."""
        return BudgetError(
            f"the worker was ended while it tried to {_VERBS.get(stage, stage)} this document: "
            f"over its budget ({self.describe()}); the page is too big or too complex "
            f"(set {TIMEOUT_ENV} / {MEMORY_ENV} to allow more)",
            stage,
        )

    def describe(self) -> str:
        parts = [f"{self.seconds:g} s" if self.seconds else "no time limit",
                 f"{self.megabytes} MB" if self.megabytes else "no memory limit"]
        return ", ".join(parts)


class _OverTime(BaseException):
    """Raised by the SIGALRM handler; a BaseException so that no `except Exception` in a
    library swallows it."""


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as fp:
            return int(fp.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_within_budget(
    fn: Callable[..., Any], args: tuple[Any, ...], budget: Budget, stage: str
) -> Any:
    """`fn(*args)` in a worker process, bounded by `budget` (see the module)."""
    def over(signum: int, frame: Any) -> None:
        raise _OverTime()

    verb = _VERBS.get(stage, stage)
    limits: list[tuple[int, tuple[int, int]]] = []
    previous = None
    try:
        if budget.seconds:
            previous = signal.signal(signal.SIGALRM, over)
            signal.setitimer(signal.ITIMER_REAL, budget.seconds)
            cpu = resource.getrlimit(resource.RLIMIT_CPU)
            limits.append((resource.RLIMIT_CPU, cpu))
            soft = int(_cpu_seconds() + budget.seconds + max(2.0, budget.seconds / 2)) + 1
            if cpu[1] == resource.RLIM_INFINITY or soft < cpu[1]:
                resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu[1]))
        size = _address_space() if budget.megabytes else None
        if size is not None:
            space = resource.getrlimit(resource.RLIMIT_AS)
            cap = size + budget.megabytes * 1024 * 1024
            if space[1] == resource.RLIM_INFINITY or cap < space[1]:
                limits.append((resource.RLIMIT_AS, space))
                resource.setrlimit(resource.RLIMIT_AS, (cap, space[1]))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            return fn(*args)
        except Exception as exc:
            # lxml and the cleaner turn a failed allocation into their own error ("does not
            # parse"); a task that grew by most of its budget before failing ran out of it
            grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) * 1024
            if size is not None and grown > budget.megabytes * 1024 * 1024 // 2:
                raise MemoryError from exc
            raise
    except _OverTime:
        raise BudgetError(
            f"took longer than {budget.seconds:g} s to {verb}; the page is too big or too "
            f"complex (set {TIMEOUT_ENV} to allow more)", stage) from None
    except MemoryError:
        raise BudgetError(
            f"needed more than {budget.megabytes} MB to {verb}; the page is too big or too "
            f"complex (set {MEMORY_ENV} to allow more)", stage) from None
    finally:
        if budget.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if previous is not None:
                signal.signal(signal.SIGALRM, previous)
        for which, value in reversed(limits):
            with contextlib.suppress(ValueError, OSError):  # the old limit is always allowed
                resource.setrlimit(which, value)
