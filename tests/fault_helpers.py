"""Helpers for the storage-fault and bad-input tests: the real CLI in a subprocess, mounts,
an unprivileged user, resource limits and database checks."""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import CORPUS

EXE = [sys.executable, "-m", "stackextract"]
NOBODY = 65534
IS_ROOT = os.geteuid() == 0


def corpus_files() -> list[Path]:
    """The markdown writeups of the fixture corpus (read offline: no network)."""
    return sorted([*CORPUS.glob("*.md"), *CORPUS.glob("*.mdx")])


def copy_corpus(dest: Path, n: int | None = None) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for src in corpus_files()[:n]:
        target = dest / src.name
        shutil.copyfile(src, target)
        target.chmod(0o644)
        out.append(target)
    return out


def env(**extra: str) -> dict[str, str]:
    """The environment for a CLI run: no model endpoint, no bytecode writes, short lock wait."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STACKEXTRACT_"))}
    base |= {"PYTHONDONTWRITEBYTECODE": "1", "STACKEXTRACT_DB_TIMEOUT": "1"}
    return base | extra


def cli(
    *args: str | Path,
    timeout: float = 60,
    extra_env: dict[str, str] | None = None,
    user: tuple[str, ...] = (),
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m stackextract ARGS` (as another user: `user=unprivileged()`)."""
    return subprocess.run(
        [*user, *EXE, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(**(extra_env or {})),
        cwd=kwargs.pop("cwd", tempfile.gettempdir()),
        **kwargs,
    )


def batch(*sources: str | Path, db: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return cli("batch", *sources, "--db", db, "--backend", "offline", "--no-progress", **kwargs)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one `error:` line of a failed run; fails the test on a traceback or several."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def summary_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if " sources: " in line]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# --- the database afterwards -----------------------------------------------------------


@dataclass(frozen=True)
class DbState:
    integrity: str
    documents: int
    sources: int
    extractions: int
    pairs: int
    orphans: int
    failures: dict[str, tuple[str, str]]
    shas: frozenset[tuple[str, str]]


def db_state(db: Path, *, immutable: bool = False) -> DbState:
    """What the file holds, read the way any other tool would read it."""
    uri = f"{db.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return DbState(
            integrity=one("PRAGMA integrity_check"),
            documents=one("SELECT COUNT(*) FROM documents"),
            sources=one("SELECT COUNT(DISTINCT source) FROM documents"),
            extractions=one("SELECT COUNT(*) FROM extractions"),
            pairs=one("SELECT COUNT(*) FROM (SELECT DISTINCT document_id, config_key "
                      "FROM extractions)"),
            orphans=one("SELECT COUNT(*) FROM tools WHERE extraction_id NOT IN "
                        "(SELECT id FROM extractions)")
            + one("SELECT COUNT(*) FROM extractions WHERE document_id NOT IN "
                  "(SELECT id FROM documents)"),
            failures={
                row[0]: (row[1], row[2])
                for row in conn.execute("SELECT source, stage, message FROM failures")
            },
            shas=frozenset(conn.execute("SELECT source, content_sha256 FROM documents")),
        )
    finally:
        conn.close()


def assert_each_once(state: DbState, n: int) -> None:
    """n documents, each stored once with one extraction, nothing dangling, file sound."""
    assert state.integrity == "ok"
    assert state.documents == state.sources == n
    assert state.extractions == state.pairs == n
    assert state.orphans == 0


def stored_extractions(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM extractions").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return 0


# --- mounts, users, limits ------------------------------------------------------------


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=20)


@contextlib.contextmanager
def tmpfs(where: Path, *, size: str = "16m", ro: bool = False) -> Iterator[Path]:
    """A tmpfs mounted at `where` for the test (skips when mounting is not permitted)."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size},mode=0777" + (",ro" if ro else "")
    proc = _mount("-t", "tmpfs", "-o", opts, "tmpfs", str(where))
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount(where: Path, options: str) -> None:
    proc = _mount("-o", f"remount,{options}", str(where))
    assert proc.returncode == 0, proc.stderr


@contextlib.contextmanager
def world_dir() -> Iterator[Path]:
    """A directory every user can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="stackextract-faults-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):  # chmod 000 entries would stop rmtree as non-root
            with contextlib.suppress(OSError):
                if not sub.is_symlink():
                    sub.chmod(0o755 if sub.is_dir() else 0o644)
        shutil.rmtree(path, ignore_errors=True)


@functools.cache
def _drop_root() -> tuple[str, ...] | None:
    """A command prefix that runs the rest as `nobody`, if it works on this machine.

    setpriv, not subprocess's user=: the interpreter may live under /root (mode 700), and
    setpriv resolves the program before the capabilities go, at exec.
    """
    if shutil.which("setpriv") is None:
        return None
    prefix = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import os, stackextract; print(os.getuid())"],
        capture_output=True, text=True, env=env(), cwd=tempfile.gettempdir(), timeout=60,
    )
    return prefix if probe.stdout.strip() == str(NOBODY) else None


def unprivileged() -> tuple[str, ...]:
    """The prefix that makes permissions apply: `nobody` when we are root, else nothing
    (a normal user is already subject to chmod). Skips when root cannot drop to nobody."""
    if not IS_ROOT:
        return ()
    prefix = _drop_root()
    if prefix is None:
        pytest.skip("cannot run the CLI as nobody here (setpriv missing or not permitted)")
    return prefix


def file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn: writes past `limit` bytes fail with EFBIG (SIGXFSZ ignored), a full
    disk as SQLite sees it, with no root and no mount."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float


# Started by a small launcher: a child forked from a big pytest process would report the
# parent's peak as its own (the memory it shared before exec counts in ru_maxrss).
_LAUNCHER = (
    "import os, subprocess, sys\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "with open(sys.argv[1], 'w') as fp:\n"
    "    fp.write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_measured(args: list[str], *, timeout: float, **kwargs: Any) -> Measured:
    """Run the CLI and report its peak resident memory, its process-pool workers included
    (wait4 in a small launcher gives the CLI's own and its reaped children's maximum)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, rss.name, *EXE, *args], stdout=out, stderr=err,
            text=True, env=env(), cwd=tempfile.gettempdir(), start_new_session=True, **kwargs,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"{args[0]} still running after {timeout}s")
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        peak_kb = float(rss.read() or 0)
        return Measured(proc.returncode, out.read(), err.read(), seconds, peak_kb / 1024)


def end_group(proc: subprocess.Popen[Any]) -> None:
    """Make sure nothing the process started outlives the test (its pool workers)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
