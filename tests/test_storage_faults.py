"""Storage faults, end to end through the real CLI: a locked database, a read-only path, a
full disk, a SIGKILL mid-write. Each must end in one clear line (no traceback), keep every
completed document exactly once, and let a re-run complete the rest."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fault_helpers import (
    EXE,
    IS_ROOT,
    assert_each_once,
    batch,
    cli,
    copy_corpus,
    corpus_files,
    db_state,
    end_group,
    env,
    error_line,
    file_size_limit,
    remount,
    stored_extractions,
    summary_line,
    tmpfs,
    unprivileged,
    world_dir,
)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """Six writeups: enough for a batch to be mid-way, few enough to stay fast."""
    copy_corpus(tmp_path / "docs", 6)
    return tmp_path / "docs"


@pytest.fixture
def all_docs(tmp_path: Path) -> Path:
    copy_corpus(tmp_path / "all")
    return tmp_path / "all"


def n_docs(directory: Path) -> int:
    return len(list(directory.iterdir()))


# --- locked database ---------------------------------------------------------------------


def test_locked_database_is_one_clear_line_then_a_rerun_completes(
    tmp_path: Path, docs: Path
) -> None:
    db = tmp_path / "stacks.db"
    first = sorted(docs.iterdir())[:3]
    assert batch(*first, db=db).returncode == 0
    before = db_state(db)

    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        proc = batch(docs, db=db, extra_env={"STACKEXTRACT_DB_TIMEOUT": "1"})
        elapsed = time.monotonic() - started
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert proc.returncode == 2
    line = error_line(proc)
    assert "is locked by another process" in line and "wait for it to finish" in line
    assert elapsed < 30  # the 1 s busy timeout, plus start-up (slow when loaded): no hang
    assert db_state(db).shas == before.shas  # nothing lost, nothing added twice

    again = batch(docs, db=db)
    assert again.returncode == 0, again.stderr
    assert f"{n_docs(docs) - 3} extracted, 3 cached" in summary_line(again)
    assert_each_once(db_state(db), n_docs(docs))


def test_a_lock_held_before_our_first_open_fails_the_same_way(tmp_path: Path, docs: Path) -> None:
    db = tmp_path / "theirs.db"  # another tool's database, rollback journal, locked
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("CREATE TABLE theirs (x)")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        proc = batch(docs, db=db)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert proc.returncode == 2
    assert "is locked by another process" in error_line(proc)
    again = batch(docs, db=db)
    assert again.returncode == 0, again.stderr
    assert_each_once(db_state(db), n_docs(docs))


def test_a_lock_released_within_the_busy_timeout_lets_the_batch_finish(
    tmp_path: Path, docs: Path
) -> None:
    db = tmp_path / "stacks.db"
    assert batch(sorted(docs.iterdir())[0], db=db).returncode == 0
    locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(2.0, lambda: (locker.execute("ROLLBACK"), locker.close()))
    started = time.monotonic()
    release.start()
    try:
        proc = batch(docs, db=db, extra_env={"STACKEXTRACT_DB_TIMEOUT": "15"})
    finally:
        release.join()
    assert time.monotonic() - started >= 2.0  # it waited for the lock instead of failing
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert_each_once(db_state(db), n_docs(docs))


# --- read-only path ----------------------------------------------------------------------


def test_database_on_a_read_only_mount(tmp_path: Path, docs: Path) -> None:
    with tmpfs(tmp_path / "ro", size="4m", ro=True) as mnt:
        proc = batch(docs, db=mnt / "stacks.db")
        assert proc.returncode == 2
        line = error_line(proc)
        assert "cannot write database" in line and "read-only file system" in line
        assert "--db" in line
        assert list(mnt.iterdir()) == []


def test_existing_database_on_a_mount_made_read_only_stays_readable(
    tmp_path: Path, docs: Path
) -> None:
    first = sorted(docs.iterdir())[:3]
    with tmpfs(tmp_path / "mnt", size="16m") as mnt:
        db = mnt / "stacks.db"
        assert batch(*first, db=db).returncode == 0
        before = db_state(db)
        remount(mnt, "ro")
        proc = batch(docs, db=db)
        assert proc.returncode == 2
        assert "read-only file system" in error_line(proc)
        # the stored documents can still be read, by us and by any SQLite reader
        export = cli("export", "--db", db)
        assert export.returncode == 0, export.stderr
        assert len(export.stdout.splitlines()) == 3
        assert db_state(db, immutable=True).shas == before.shas
        remount(mnt, "rw")
        again = batch(docs, db=db)
        assert again.returncode == 0, again.stderr
        assert_each_once(db_state(db), n_docs(docs))


def test_directory_not_writable_for_the_user() -> None:
    """Runs everywhere: as `nobody` when we are root, else with chmod."""
    with world_dir() as root:
        docs = root / "docs"
        copy_corpus(docs, 2)
        locked = root / "locked"
        locked.mkdir(mode=0o755)
        if not IS_ROOT:
            locked.chmod(0o555)
        proc = batch(docs, db=locked / "stacks.db", user=unprivileged())
        assert proc.returncode == 2
        line = error_line(proc)
        assert "cannot write database" in line and "is not writable" in line
        assert list(locked.iterdir()) == []


def test_read_only_database_file_keeps_its_documents() -> None:
    with world_dir() as root:
        docs = root / "docs"
        copy_corpus(docs, 4)
        shared = root / "shared"
        shared.mkdir()
        shared.chmod(0o777)  # the directory is writable: only the file is read-only
        db = shared / "stacks.db"
        assert batch(*sorted(docs.iterdir())[:2], db=db).returncode == 0
        before = db_state(db)
        db.chmod(0o444)
        proc = batch(docs, db=db, user=unprivileged())
        assert proc.returncode == 2
        line = error_line(proc)
        assert "cannot be written" in line and "is read-only" in line
        export = cli("export", "--db", db, user=unprivileged())
        assert export.returncode == 0, export.stderr
        assert len(export.stdout.splitlines()) == 2
        db.chmod(0o644)
        assert db_state(db).shas == before.shas
        again = batch(docs, db=db)
        assert again.returncode == 0, again.stderr
        assert_each_once(db_state(db), 4)


# --- full disk ---------------------------------------------------------------------------


def _full_then_space_again(db: Path, docs: Path, proc: subprocess.CompletedProcess[str],
                           fragment: str) -> None:
    assert proc.returncode == 2
    assert fragment in error_line(proc)
    kept = db_state(db)
    assert kept.integrity == "ok"
    assert kept.documents == kept.extractions == kept.pairs < n_docs(docs)
    assert kept.orphans == 0


def test_disk_full_on_a_small_tmpfs(tmp_path: Path, all_docs: Path) -> None:
    with tmpfs(tmp_path / "small", size="1m") as mnt:
        db = mnt / "stacks.db"
        proc = batch(all_docs, "--concurrency", "1", db=db)
        _full_then_space_again(db, all_docs, proc, "disk full while writing")
        before = db_state(db)
        assert before.documents >= 1  # the disk filled mid-batch, after some documents
        remount(mnt, "size=64m")
        again = batch(all_docs, db=db)
        assert again.returncode == 0, again.stderr
        after = db_state(db)
        assert before.shas <= after.shas  # what was stored before the fault is still there
        assert_each_once(after, n_docs(all_docs))


def test_file_size_limit_fault_without_root(tmp_path: Path, all_docs: Path) -> None:
    db = tmp_path / "stacks.db"
    proc = batch(all_docs, "--concurrency", "1", db=db, preexec_fn=file_size_limit(700_000))
    _full_then_space_again(db, all_docs, proc, "disk I/O error")
    line = error_line(proc)
    assert "free space or check the disk, then re-run" in line
    before = db_state(db)
    assert before.documents >= 1  # the fault landed mid-batch, after some documents
    assert f"({before.documents} of {n_docs(all_docs)} sources are stored)" in line
    again = batch(all_docs, db=db)
    assert again.returncode == 0, again.stderr
    assert f"{before.documents} cached" in summary_line(again)
    after = db_state(db)
    assert before.shas <= after.shas
    assert_each_once(after, n_docs(all_docs))


# --- SIGKILL mid-write -------------------------------------------------------------------


def _heavy_inputs(directory: Path, n: int) -> None:
    """n sources with one large text: after the first, every save is a cache hit that still
    writes the whole text, its full-text index and the items: the writer is always busy."""
    directory.mkdir()
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in corpus_files())
    for i in range(n):
        (directory / f"copy-{i:03d}.md").write_text(text, encoding="utf-8")


@pytest.mark.slow
def test_sigkill_while_the_writer_is_busy(tmp_path: Path) -> None:
    n = 80
    docs = tmp_path / "heavy"
    _heavy_inputs(docs, n)
    db = tmp_path / "stacks.db"
    kills = 0
    for target in (8, 30):  # two kills at different points of the run
        proc = subprocess.Popen(
            [*EXE, "batch", str(docs), "--db", str(db), "--backend", "offline", "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while stored_extractions(db) < target and proc.poll() is None:
                assert time.monotonic() < deadline, "the batch made no progress"
                time.sleep(0.01)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.communicate(timeout=10)
        finally:
            end_group(proc)
        state = db_state(db)
        assert state.integrity == "ok"
        assert state.documents == state.extractions == state.pairs < n
        assert state.orphans == 0
    assert kills == 2
    before = db_state(db)
    again = batch(docs, db=db, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{n} sources: 0 extracted, {n} cached, 0 failed" in summary_line(again)
    after = db_state(db)
    assert before.shas <= after.shas
    assert_each_once(after, n)
