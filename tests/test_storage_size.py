"""The whole Stack is stored once compressed: smaller, still read back, exported and cached."""

from __future__ import annotations

import csv
import json
import sqlite3
import zlib
from pathlib import Path

import pytest

from batch_helpers import make_document, make_stack
from stackextract.errors import StoreError
from stackextract.models import Stack
from stackextract.store.database import Store, pack_stack, unpack_stack
from stackextract.store.export import export_csv, jsonl_string


def _raw(db: Path) -> list[object]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT stack_json FROM extractions")]


def test_stack_json_is_compressed_and_reads_back(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    doc = make_document()
    stack = make_stack(doc)
    with Store(db) as store:
        store.save(doc, stack, config_key="k1")
        (back,) = store.stacks()
        hit = store.cached(doc.content_sha256, config_key="k1")
    (raw,) = _raw(db)
    assert isinstance(raw, bytes)
    plain = stack.model_dump_json().encode()
    assert len(raw) < len(plain) / 2
    assert json.loads(zlib.decompress(raw)) == json.loads(plain)
    assert back == stack and hit == stack


def test_rows_written_as_json_text_by_older_versions_still_read(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    doc = make_document()
    stack = make_stack(doc)
    with Store(db) as store:
        store.save(doc, stack, config_key="k1")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE extractions SET stack_json = ?", (stack.model_dump_json(),))
    with Store(db) as store:
        assert list(store.stacks()) == [stack]
        assert store.cached(doc.content_sha256, config_key="k1") == stack


def test_exports_hold_the_json_not_the_compressed_bytes(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    doc = make_document()
    stack = make_stack(doc)
    with Store(db) as store:
        store.save(doc, stack, config_key="k1")
        lines = jsonl_string(store).splitlines()
        paths = export_csv(store, tmp_path / "csv")
    assert [Stack.model_validate_json(line) for line in lines] == [stack]
    with paths["extractions"].open(newline="", encoding="utf-8") as fp:
        (row,) = list(csv.DictReader(fp))
    assert Stack.model_validate_json(row["stack_json"]) == stack


def test_a_damaged_stack_is_a_store_error() -> None:
    packed = pack_stack(make_stack(make_document()))
    with pytest.raises(StoreError, match="damaged"):
        unpack_stack(packed[:-8] + b"\0" * 8)
