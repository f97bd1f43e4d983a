"""Cache keys that tell the truth (issue 16): the catalog (bundled and the user's), every
data file of the offline extractor and the thresholds are in the key; catalog overrides."""

from __future__ import annotations

import io
import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from stackextract.batch.runner import run_batch
from stackextract.catalog import Catalog
from stackextract.errors import ConfigError
from stackextract.offline.extractor import (
    HeuristicExtractor,
    code_fingerprint,
    data_fingerprint,
)
from stackextract.store.database import Store

PAGE = "# Our stack\n\nWe run Django on PostgreSQL, cache in Redis and ship with AcmeDeploy.\n"


def _run(sources: list, db: Path, **kw: object):
    kw.setdefault("backend", "offline")
    kw.setdefault("progress", False)
    kw.setdefault("stream", io.StringIO())
    kw.setdefault("workers", 1)
    return run_batch(sources, db=db, **kw)


def _tools(db: Path) -> set[str]:
    with Store(db) as store:
        (stack,) = list(store.stacks())
    return {t.canonical for t in stack.tools}


def test_a_changed_user_catalog_re_extracts(tmp_path: Path) -> None:
    page = tmp_path / "post.md"
    page.write_text(PAGE)
    catalog = tmp_path / "mine.json"
    catalog.write_text(json.dumps([{"name": "Redis", "remove": True}]))
    db = tmp_path / "s.db"
    first = _run([page], db, catalog_path=str(catalog))
    assert first.done == 1 and "Redis" not in _tools(db)
    assert _run([page], db, catalog_path=str(catalog)).cached == 1  # same file: cached

    catalog.write_text(json.dumps([{"name": "AcmeDeploy", "category": "ci_cd"}]))
    second = _run([page], db, catalog_path=str(catalog))
    assert (second.done, second.cached) == (1, 0)  # not "1 cached" with the old result
    assert {"Redis", "AcmeDeploy"} <= _tools(db)
    plain = _run([page], db)  # the bundled catalog alone is another configuration again
    assert plain.done == 1


def test_every_offline_data_file_is_in_the_key(tmp_path: Path) -> None:
    data = Path(str(resources.files("stackextract").joinpath("data")))
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    assert data_fingerprint(copy) == data_fingerprint()
    (copy / "weights.json").write_text('{"w": [0.1, 0.2]}')
    with_weights = data_fingerprint(copy)
    assert with_weights != data_fingerprint()
    (copy / "weights.json").write_text('{"w": [0.1, 0.3]}')
    assert data_fingerprint(copy) not in (with_weights, data_fingerprint())

    # and for real: a file added to the package's data folder changes the stored key
    page = tmp_path / "post.md"
    page.write_text(PAGE)
    db = tmp_path / "s.db"
    before = HeuristicExtractor().config_key()
    assert _run([page], db).done == 1
    planted = data / "zz_test_weights.bin"
    try:
        planted.write_bytes(b"\x00\x01 learned weights")
        assert HeuristicExtractor().config_key() != before
        assert _run([page], db).done == 1  # re-extracted, not cached
    finally:
        planted.unlink()
    assert HeuristicExtractor().config_key() == before
    assert _run([page], db).cached == 1


def test_the_deciding_code_is_in_the_key(tmp_path: Path) -> None:
    """An edited checkout keeps its version: a change to the offline steps, the catalog
    matcher, grounding, the pipeline or the records must re-extract; the CLI need not."""
    package = Path(str(resources.files("stackextract")))
    copy = tmp_path / "stackextract"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("data", "__pycache__"))
    before = code_fingerprint(copy)
    (copy / "cli" / "main.py").write_text("# another CLI\n", encoding="utf-8")
    assert code_fingerprint(copy) == before
    for edited in ("offline/features.py", "grounding/locate.py", "pipeline.py", "models.py"):
        path = copy / edited
        path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        assert code_fingerprint(copy) != before, edited
        before = code_fingerprint(copy)
    (copy / "offline" / "new_step.py").write_text("X = 1\n", encoding="utf-8")
    assert code_fingerprint(copy) != before
    assert code_fingerprint() == code_fingerprint()  # the installed package: stable


def test_thresholds_are_in_the_key(tmp_path: Path) -> None:
    page = tmp_path / "post.md"
    page.write_text(PAGE)
    db = tmp_path / "s.db"
    keys = set()
    for options in ({}, {"min_confidence": 0.9}, {"strict": True}, {"min_confidence": 0.0}):
        summary = _run([page], db, **options)
        assert summary.done == 1, options
        keys.add(summary.config_key)
    assert len(keys) == 4


def test_catalog_fingerprint_follows_the_entries() -> None:
    bundled = Catalog.bundled()
    assert bundled.fingerprint == Catalog.bundled().fingerprint
    changed = bundled.merge([{"name": "PostgreSQL", "remove_aliases": ["PG"]}])
    assert changed.fingerprint != bundled.fingerprint


# --- overrides: remove or replace a bundled entry or alias --------------------------------


def test_remove_an_entry_and_an_alias() -> None:
    bundled = Catalog.bundled()
    assert bundled.lookup("PG") is not None and bundled.lookup("PG").name == "PostgreSQL"
    mine = bundled.merge([
        {"name": "PostgreSQL", "remove_aliases": ["PG", "psql"]},
        {"name": "Redis", "remove": True},
    ])
    assert mine.lookup("PG") is None and mine.lookup("psql") is None
    assert mine.lookup("Postgres").name == "PostgreSQL"  # the other aliases stay
    assert mine.lookup("Redis") is None
    assert not mine.find_mentions("We keep PG next to Redis.")
    assert len(mine) == len(bundled) - 1


def test_replace_an_entry_whole() -> None:
    bundled = Catalog.bundled()
    mine = bundled.merge([{"name": "PostgreSQL", "replace": True, "category": "database",
                           "aliases": ["Postgres"]}])
    entry = mine.lookup("PostgreSQL")
    assert entry.aliases == ("Postgres",) and not entry.case_sensitive
    assert mine.lookup("psql") is None


def test_an_alias_claimed_by_a_user_entry_moves_to_it() -> None:
    mine = Catalog.bundled().merge([{"name": "Acme Postgres", "category": "database",
                                     "aliases": ["PG"]}])
    assert mine.lookup("PG").name == "Acme Postgres"
    assert "PG" not in mine.lookup("PostgreSQL").aliases
    (mention,) = mine.find_mentions("We keep our data in PG.")
    assert mention.entry.name == "Acme Postgres"


def test_bad_remove_aliases_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="remove_aliases"):
        Catalog.bundled().merge([{"name": "PostgreSQL", "remove_aliases": "PG"}])


def test_the_documented_override_example_does_what_the_table_says() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "catalog.md").read_text()
    example = text.split("## Adding a catalog of your own")[1].split("```json")[1].split("```")[0]
    bundled = Catalog.bundled()
    assert bundled.lookup("Hamilton") is not None and bundled.lookup("PG") is not None
    mine = bundled.merge(json.loads(example))
    assert mine.lookup("AcmeQ").name == "Acme Queue"
    assert mine.lookup("PG") is None and mine.lookup("Postgres 16").name == "PostgreSQL"
    assert mine.lookup("Hamilton") is None
    assert mine.lookup("Render").aliases == ("Render.com",)


def test_min_relevance_is_in_the_key_of_extract_db(tmp_path: Path) -> None:
    """`extract --db --min-relevance` stored under the default key: a later default run
    said 'already there' and kept what the other threshold had kept."""
    import subprocess
    import sys

    page = tmp_path / "post.md"
    page.write_text(PAGE)
    db = tmp_path / "s.db"
    said = []
    for value in ("0.5", "0", "0"):
        run = subprocess.run([sys.executable, "-m", "stackextract", "extract", str(page),
                              "--db", str(db), "--min-relevance", value],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        said.append("already there" in run.stderr)
    assert said == [False, False, True]
    bad = subprocess.run([sys.executable, "-m", "stackextract", "extract", str(page),
                          "--min-relevance", "1.5"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "1.5" in bad.stderr


NOT_A_WRITEUP = ("The match ended two all after a late header. " * 20
                 + "Fans streamed it on Twitch and Discord while the coach, who runs Kubernetes "
                   "at home, praised the striker. " * 10)


def test_batch_and_reextract_filter_on_relevance_under_their_own_key(tmp_path: Path) -> None:
    """`min_relevance` reaches batch and reextract as it reaches extract: a page the model
    scores as no stack writeup keeps nothing by default and what the text names at 0, each
    stored under its own configuration key (a default run does not say 'already there' for
    a page filtered otherwise)."""
    import subprocess
    import sys

    from stackextract.errors import InputError

    page = tmp_path / "match.txt"
    page.write_text(NOT_A_WRITEUP)
    db = tmp_path / "s.db"
    default = _run([page], db)
    everything = _run([page], db, min_relevance=0.0)
    assert (default.done, everything.done) == (1, 1)
    assert default.config_key != everything.config_key
    rerun = _run([page], db, min_relevance=0.0)
    assert (rerun.done, rerun.cached) == (0, 1)  # the same text under the same key
    with Store(db) as store:
        kept = {key: store.cached(source=str(page.resolve()), config_key=key)
                for key in (default.config_key, everything.config_key)}
    assert kept[default.config_key] is not None and kept[default.config_key].tools == []
    assert {t.canonical for t in kept[everything.config_key].tools} >= {"Kubernetes"}
    with pytest.raises(InputError, match="min_relevance"):
        _run([page], db, min_relevance=1.5)
    for command in (["batch", str(page), "--db", str(db)], ["reextract", "--db", str(db)]):
        bad = subprocess.run([sys.executable, "-m", "stackextract", *command,
                              "--min-relevance", "2"], capture_output=True, text=True,
                             timeout=120)
        assert bad.returncode == 2 and "--min-relevance" in bad.stderr, bad.stderr
    again = subprocess.run([sys.executable, "-m", "stackextract", "reextract", "--db", str(db),
                            "--min-relevance", "0.3", "--no-progress"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "1 extracted" in again.stderr, again.stderr
    with Store(db) as store:
        assert len({e["config_key"] for e in store.db["extractions"].rows}) == 3
