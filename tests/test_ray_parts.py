"""Result parts without a cluster: import into the store (dedupe, re-import, failures,
duplicates by content hash), the done set for resuming, the documented columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_helpers import TEXT, make_document, make_stack
from conftest import ROOT
from stackextract.errors import FetchError, InputError
from stackextract.ray import rows as R
from stackextract.ray.parts import import_parts, read_done
from stackextract.store.database import Store

KEY = "cfg-1"


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(R.to_jsonable(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _ok(url: str, text: str = TEXT) -> dict:
    doc = make_document(url, text=text)
    return R.ok_row(url, doc, make_stack(doc), config_key=KEY, duration_s=0.1)


def test_import_stores_like_batch_and_a_reimport_adds_nothing(tmp_path: Path) -> None:
    parts = tmp_path / "out"
    _write(parts / "a.jsonl", [_ok("https://a.example/1"), _ok("https://a.example/2", TEXT + " x")])
    failed = R.failed_row("https://a.example/3", FetchError("HTTP 404 from the site"),
                          config_key=KEY)
    _write(parts / "b.jsonl", [failed])
    db = tmp_path / "stacks.db"
    first = import_parts([parts], db=db)
    assert (first.stored, first.failures, first.exit_code) == (2, 1, 0)
    with Store(db) as store:
        counts = store.counts()
        assert store.cached(source="https://a.example/1", config_key=KEY) is not None
        (failure,) = store.failures()
    assert counts["documents"] == 2 and counts["tools"] == 8
    assert (failure["stage"], failure["error_type"]) == ("fetch", "FetchError")
    again = import_parts([parts], db=db)
    assert (again.stored, again.already, again.failures) == (0, 2, 0)
    with Store(db) as store:
        assert store.counts() == counts
        assert store.failures()[0]["occurrences"] == 1


def test_a_later_success_wins_over_an_earlier_failure(tmp_path: Path) -> None:
    url = "https://a.example/1"
    _write(tmp_path / "run1" / "p.jsonl",
           [R.failed_row(url, FetchError("timed out"), config_key=KEY)])
    _write(tmp_path / "run2" / "p.jsonl", [_ok(url)])
    db = tmp_path / "stacks.db"
    summary = import_parts([tmp_path / "run1", tmp_path / "run2"], db=db)
    assert (summary.stored, summary.failures) == (1, 0)
    with Store(db) as store:
        assert store.failures() == []


def test_duplicates_reuse_the_extraction_of_the_same_text(tmp_path: Path) -> None:
    original = _ok("https://a.example/1")
    doc = make_document("https://mirror.example/1")
    duplicate = R.duplicate_row("https://mirror.example/1", doc, config_key=KEY, duration_s=0)
    orphan = R.duplicate_row("https://b.example/9", make_document("https://b.example/9",
                                                                  text=TEXT + " other"),
                             config_key=KEY, duration_s=0)
    _write(tmp_path / "out" / "p.jsonl", [duplicate, orphan, original])
    db = tmp_path / "stacks.db"
    summary = import_parts([tmp_path / "out"], db=db)
    assert (summary.stored, summary.reused, summary.unresolved) == (1, 1, 1)
    assert summary.exit_code == 1
    with Store(db) as store:
        mirror = store.cached(source="https://mirror.example/1", config_key=KEY)
        assert mirror is not None and mirror.source.url == "https://mirror.example/1"
        assert [t.name for t in mirror.tools] == ["Postgres", "Redis", "MongoDB", "Vue"]
        (failure,) = store.failures()
    assert failure["source"] == "https://b.example/9" and failure["stage"] == "cache"


def test_unreadable_parts_are_skipped_and_named(tmp_path: Path) -> None:
    _write(tmp_path / "out" / "good.jsonl", [_ok("https://a.example/1")])
    (tmp_path / "out" / "cut.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "out" / "other.jsonl").write_text('{"id": 1}\n', encoding="utf-8")
    summary = import_parts([tmp_path / "out"], db=tmp_path / "stacks.db")
    assert summary.stored == 1 and len(summary.bad_files) == 2 and summary.exit_code == 1
    assert any("cut.parquet" in bad for bad in summary.bad_files)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no result files"):
        import_parts([tmp_path / "empty"], db=tmp_path / "x.db")
    with pytest.raises(InputError, match="no such file"):
        import_parts([tmp_path / "missing"], db=tmp_path / "x.db")


def test_done_set_from_parts_from_a_store_and_from_keys(tmp_path: Path) -> None:
    ok = _ok("https://a.example/1")
    other = json.loads(R.to_jsonable(_ok("https://a.example/2", TEXT + " y")))
    other["config_key"] = "another-config"
    failed = R.failed_row("https://a.example/3", FetchError("x"), config_key=KEY)
    _write(tmp_path / "out" / "p.jsonl", [ok, other, failed])
    done = read_done(tmp_path / "out", KEY)
    assert done.sources == {"https://a.example/1"}  # not the failure, not another config
    assert done.hashes == {ok["content_sha256"]}
    import_parts([tmp_path / "out"], db=tmp_path / "stacks.db")
    assert read_done(tmp_path / "stacks.db", KEY) == done
    keys = read_done(["https://x.example/", ok["content_sha256"]], KEY)
    assert keys.sources == {"https://x.example/"} and keys.hashes == {ok["content_sha256"]}


def test_every_column_is_documented() -> None:
    scale = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    missing = [name for name, _, _ in R.COLUMNS if f"`{name}`" not in scale]
    assert missing == []
