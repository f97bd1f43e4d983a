"""The second round of hostile input, work per page (issue 15, defect 7): pages under the
size cap that would hold a worker for minutes and gigabytes are stopped at the worker's
budget (time, memory) and recorded as failures with their stage, the other documents are
stored, and a second Ctrl-C ends busy workers at once. Real CLI subprocesses."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_helpers import copy_corpus, env, summary_line

MB = 1024 * 1024


def _tags() -> bytes:
    return b"<html><body><article>" + b"<p>x</p>" * 1_000_000 + b"</article></body></html>"


def _attributes() -> bytes:
    attrs = b" ".join(b'a%d="v"' % i for i in range(300_000))
    return b"<html><body><div " + attrs + b">We use Django.</div></body></html>"


def _one_line() -> bytes:
    words = b"We use Django and PostgreSQL and Redis and Celery " * 190_000
    return b"<html><body><article><p>" + words + b"</p></article></body></html>"


SHAPES = {"million-tags": _tags, "300k-attributes": _attributes, "9.5MB-line": _one_line}


def _batch(docs: Path, db: Path, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stackextract", "batch", str(docs), "--db", str(db),
         "--backend", "offline", "--no-progress", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(**extra),
    )


def _failures(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT source, stage, message FROM failures").fetchall()


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPES.keys())
def test_a_page_over_the_time_budget_is_a_failure_and_the_rest_is_stored(
    tmp_path: Path, shape: str
) -> None:
    docs = tmp_path / "docs"
    copy_corpus(docs, 2)
    hostile = docs / "hostile.html"
    hostile.write_bytes(SHAPES[shape]())
    assert hostile.stat().st_size < 10 * MB
    db = tmp_path / "s.db"
    proc = _batch(docs, db, STACKEXTRACT_WORKER_TIMEOUT="2")
    out, err = proc.communicate(timeout=90)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert proc.returncode == 1, err
    assert "3 sources: 2 extracted, 0 cached, 1 failed" in summary_line(done)
    [(source, stage, message)] = _failures(db)
    assert source == str(hostile.resolve()) and stage == "clean"
    assert "took longer than 2 s" in message or "the worker was ended" in message


@pytest.mark.slow
def test_a_page_over_the_memory_budget_is_a_failure(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    copy_corpus(docs, 2)
    (docs / "hostile.html").write_bytes(_tags())
    db = tmp_path / "s.db"
    proc = _batch(docs, db, STACKEXTRACT_WORKER_MEMORY="200", STACKEXTRACT_WORKER_TIMEOUT="60")
    out, err = proc.communicate(timeout=120)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert proc.returncode == 1, err
    assert "3 sources: 2 extracted, 0 cached, 1 failed" in summary_line(done)
    [(_, stage, message)] = _failures(db)
    assert stage == "clean", message
    assert any(s in message for s in ("needed more than 200 MB", "the worker was ended",
                                      "MemoryError")), message


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fp:
                found |= {int(c) for c in fp.read().split()}
    except OSError:
        pass
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fp:
            return fp.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_second_ctrl_c_ends_busy_workers(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(2):  # both workers busy for minutes (no budget)
        (docs / f"hostile{i}.html").write_bytes(_tags())
    db = tmp_path / "s.db"
    proc = _batch(docs, db, STACKEXTRACT_WORKER_TIMEOUT="0")
    started = time.monotonic()  # start-up (slow on a loaded machine), then workers in a page
    while not (workers := _children(proc.pid)) and time.monotonic() - started < 60:
        time.sleep(0.2)
    assert workers
    time.sleep(2)  # deep in a page: the pool has handed both documents out
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)  # not the minutes the pages would take
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
