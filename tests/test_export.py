"""Exports: JSONL lines are valid Stacks (JSON Schema), CSV has one file per table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from batch_helpers import make_document, make_stack
from stackextract.errors import StoreError
from stackextract.models import Stack
from stackextract.store.database import TABLES, Store
from stackextract.store.export import export_csv, export_jsonl

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "stack.schema.json"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "stacks.db", prefix="p_")
    for url in ("https://a.example/x", "https://b.example/y"):
        doc = make_document(url=url, text=f"{url} " + make_document().text)
        s.save(doc, make_stack(doc), config_key="k1")
    s.record_failure("https://c.example/z", stage="fetch", error_type="FetchError", message="404")
    yield s
    s.close()


def _schemas() -> list[dict]:
    schemas = [Stack.model_json_schema()]
    if SCHEMA_FILE.exists():
        schemas.append(json.loads(SCHEMA_FILE.read_text()))
    return schemas


def test_jsonl_lines_validate_and_round_trip(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "stacks.jsonl"
    assert export_jsonl(store, out) == 2
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    for line in lines:
        data = json.loads(line)
        for schema in _schemas():
            jsonschema.validate(data, schema)
        assert Stack.model_validate(data).tools
    assert lines == [s.model_dump_json() for s in store.stacks()]


def test_jsonl_to_a_file_object(store: Store) -> None:
    buf = io.StringIO()
    export_jsonl(store, buf)
    assert buf.getvalue().count("\n") == 2


def test_csv_one_file_per_table(store: Store, tmp_path: Path) -> None:
    written = export_csv(store, tmp_path / "csv")
    assert sorted(written) == sorted(TABLES)
    counts = store.counts()
    for name, path in written.items():
        assert path.name == f"{name}.csv"
        with path.open(newline="", encoding="utf-8") as fp:
            rows = list(csv.DictReader(fp))
        assert len(rows) == counts[name], name
    with written["tools"].open(newline="", encoding="utf-8") as fp:
        first = next(csv.DictReader(fp))
    assert {"extraction_id", "name", "canonical", "category", "status", "quote"} <= set(first)


def test_unwritable_output_is_a_store_error(store: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="choose another"):
        export_csv(store, blocker / "sub")
    with pytest.raises(StoreError, match="choose another"):
        export_jsonl(store, blocker / "sub" / "x.jsonl")
