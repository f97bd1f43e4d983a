"""LLM backend: settings, prompts, schema, and replay of cassettes recorded from a real model.

The cassettes in fixtures/cassettes/ were recorded by scripts/record_cassettes.py against
llama.cpp's llama-server serving SmolLM2-135M-Instruct (JSON_SCHEMA mode, grammar
constrained). Replay never touches the network: vcrpy runs with record_mode="none".
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from llm_cassettes import CASSETTES, DUMMY_KEY, MANIFEST, REPLAY_BASE_URL, cassette_vcr
from stackextract.errors import ConfigError
from stackextract.llm.extractor import LLMExtractor
from stackextract.llm.prompts import PROMPT_FILES, load_prompts
from stackextract.llm.schema import ExtractedStack
from stackextract.llm.settings import LLMSettings, llm_configured
from stackextract.sources.load import read_file

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STACKEXTRACT_MODEL", "STACKEXTRACT_LLM_MODE")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


# -- settings -----------------------------------------------------------------------------
def test_settings_keyword_beats_env_beats_default() -> None:
    env = {
        "OPENAI_API_KEY": "sk-env-key-123456",
        "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
        "STACKEXTRACT_MODEL": "env-model",
        "STACKEXTRACT_LLM_MODE": "md_json",
    }
    s = LLMSettings.resolve(env=env)
    assert (s.api_key, s.base_url, s.model, s.mode) == (
        "sk-env-key-123456", "http://127.0.0.1:1/v1", "env-model", "md_json",
    )
    s = LLMSettings.resolve(env=env, model="kw-model", mode="tools", api_key="sk-kw-key-123456")
    assert (s.model, s.mode, s.api_key) == ("kw-model", "tools", "sk-kw-key-123456")
    assert s.temperature == 0


def test_default_mode_and_model_depend_on_the_endpoint() -> None:
    openai_settings = LLMSettings.resolve(env={"OPENAI_API_KEY": "sk-x"})
    assert (openai_settings.mode, openai_settings.model) == ("tools", "gpt-4o-mini")
    local = LLMSettings.resolve(env={"OPENAI_BASE_URL": "http://127.0.0.1:8089/v1"})
    assert local.mode == "json_schema" and local.configured
    assert not LLMSettings.resolve(env={}).configured
    assert llm_configured({"OPENAI_BASE_URL": "x"}) and not llm_configured({})


def test_settings_repr_never_shows_the_key() -> None:
    s = LLMSettings.resolve(env={}, api_key="sk-secret-abcdef123456")
    assert "sk-secret" not in repr(s) and "sk-secret" not in str(s) and "***" in repr(s)
    ex = LLMExtractor(api_key="sk-secret-abcdef123456")
    assert "sk-secret" not in repr(ex)


@pytest.mark.parametrize(
    "kwargs", [{"mode": "grammar"}, {"max_tokens": 0}, {"max_reasks": -1}, {"colour": "red"}]
)
def test_bad_settings_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        LLMSettings.resolve(env={"OPENAI_API_KEY": "sk-x"}, **kwargs)


@pytest.mark.parametrize("backend", ["offline", "llm"])
def test_a_misspelt_setting_is_a_config_error_for_either_backend(backend: str) -> None:
    from stackextract.extractors import get_extractor

    with pytest.raises(ConfigError, match="propose_unkown"):
        get_extractor(backend, base_url="http://127.0.0.1:9/v1", propose_unkown=False)
    # the offline backend ignores the LLM's settings, so "auto" can fall back to it; its list
    # of them must name every keyword LLMExtractor takes
    import inspect

    from stackextract.extractors import _llm_setting_names

    taken = set(inspect.signature(LLMExtractor).parameters) - {"options"}
    assert taken <= _llm_setting_names()
    offline = get_extractor("offline", model="m", temperature=0.2, propose_unknown=False)
    assert offline.name in ("offline", "heuristic") and not offline.propose_unknown


# -- prompts and identity -----------------------------------------------------------------
def test_prompt_version_is_a_hash_of_the_files(tmp_path: Path) -> None:
    prompts = load_prompts()
    assert re.fullmatch(r"[0-9a-f]{12}", prompts.version)
    for name in PROMPT_FILES:
        shutil.copy(prompts.directory / name, tmp_path / name)
    assert load_prompts(tmp_path).version == prompts.version
    (tmp_path / "system.txt").write_text("Something else.")
    assert load_prompts(tmp_path).version != prompts.version
    assert prompts.example_output["tools"], "few-shot example has tools"


def test_missing_prompt_files_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="prompt files"):
        load_prompts(tmp_path)


def test_config_key_depends_on_model_mode_hints_prompt_not_on_key_or_url() -> None:
    base = LLMExtractor(api_key="sk-a", model="m1").config_key()
    assert LLMExtractor(api_key="sk-b", model="m1").config_key() == base
    # the same model and context behind another URL: same key (the URL's only say is the
    # default context: a local server is assumed to have 8k, hence smaller chunks)
    assert LLMExtractor(base_url="http://h/v1", model="m1", mode="tools",
                        context_tokens=128_000).config_key() == base
    assert LLMExtractor(api_key="sk-a", model="m1", context_tokens=8192).config_key() != base
    assert LLMExtractor(api_key="sk-a", model="m2").config_key() != base
    assert LLMExtractor(api_key="sk-a", model="m1", mode="json").config_key() != base
    assert LLMExtractor(api_key="sk-a", model="m1", hints=True).config_key() != base
    assert LLMExtractor(api_key="sk-a", model="m1").name == "llm"


def test_schema_is_bounded_and_every_item_has_a_quote() -> None:
    schema = ExtractedStack.model_json_schema()
    defs = schema["$defs"]
    for name in ("LLMTool", "LLMReason", "LLMRegret", "LLMMigration"):
        assert "quote" in defs[name]["required"]

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node:
                assert "maxLength" in node, path
            if node.get("type") == "array":
                assert "maxItems" in node, path
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(schema, "$")


# -- cassettes ----------------------------------------------------------------------------
def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def recorded_documents() -> list[str]:
    if not MANIFEST.exists():
        return []
    return sorted(k for k, v in manifest()["documents"].items() if "error" not in v)


def replay_extractor(**kw: Any) -> LLMExtractor:
    m = manifest()
    options: dict[str, Any] = {
        "base_url": REPLAY_BASE_URL,
        "api_key": DUMMY_KEY,
        "model": m["model"],
        "mode": m["mode"],
        "hints": m["hints"],
        **m["settings"],
        "max_retries": 0,
    }
    options.update(kw)
    return LLMExtractor(**options)


def load_doc(stem: str) -> Any:
    return read_file(CORPUS / manifest()["documents"][stem]["file"])


def test_cassettes_exist_and_match_the_current_prompts() -> None:
    assert recorded_documents(), "no cassettes: run scripts/record_cassettes.py"
    assert manifest()["prompt_version"] == load_prompts().version, (
        "prompts/ changed since the cassettes were recorded; re-run scripts/record_cassettes.py"
    )


def test_cassettes_contain_no_key_or_auth_header() -> None:
    files = list(CASSETTES.rglob("*"))
    assert files
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"sk-[A-Za-z0-9_\-]{6,}", text), path
        assert "authorization" not in text.lower(), path
        assert "cookie" not in text.lower(), path
        assert "openai-organization" not in text.lower(), path
        assert "Bearer" not in text, path


needs_corpus = pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not available")


@needs_corpus
@pytest.mark.parametrize("stem", recorded_documents())
def test_replay_gives_the_recorded_stack(stem: str) -> None:
    entry = manifest()["documents"][stem]
    doc = load_doc(stem)
    with cassette_vcr().use_cassette(entry["cassette"]) as cassette:
        stack = replay_extractor().extract(doc)
    assert cassette.all_played
    assert [[t.name, t.status.value] for t in stack.tools] == entry["tools"]
    assert stack.provenance.usage.model_dump() == entry["usage"]
    assert stack.provenance.chunks == entry["chunks"]
    assert stack.provenance.prompt_version == manifest()["prompt_version"]
    assert stack.provenance.usage.total_tokens > 0


@needs_corpus
def test_async_replay_matches_sync() -> None:
    stem = recorded_documents()[0]
    entry = manifest()["documents"][stem]
    with cassette_vcr().use_cassette(entry["cassette"]):
        stack = asyncio.run(replay_extractor().aextract(load_doc(stem)))
    assert [[t.name, t.status.value] for t in stack.tools] == entry["tools"]


@needs_corpus
def test_replay_with_another_prompt_does_not_reach_the_network() -> None:
    from stackextract.errors import ExtractionError

    stem = recorded_documents()[0]
    doc = load_doc(stem)
    with cassette_vcr().use_cassette(manifest()["documents"][stem]["cassette"]):
        ex = replay_extractor(hints=True, hint_source=lambda d: ["Anything"])
        doc = doc.model_copy(update={"text": doc.text + "\n\nAnything else."})
        with pytest.raises(ExtractionError):
            ex.extract(doc)


def _spellings(name: str) -> set[str]:
    from stackextract.catalog.vocabulary import Catalog

    entry = Catalog.default().lookup(name)
    return {name, *(entry.spellings if entry else ())}


@needs_corpus
def test_grounding_drops_the_small_models_invented_tools() -> None:
    """SmolLM2 copies the few-shot example's tools into its answers; grounding drops them."""
    from stackextract.grounding.locate import ground_stack

    invented_total = 0
    for stem in recorded_documents():
        entry = manifest()["documents"][stem]
        doc = load_doc(stem)
        with cassette_vcr().use_cassette(entry["cassette"]):
            raw = replay_extractor().extract(doc)
        grounded = ground_stack(raw, doc)
        text = doc.text.casefold()
        invented = {
            t.name
            for t in raw.tools
            if not any(s.casefold() in text for s in _spellings(t.name) | _spellings(t.canonical))
        }
        invented_total += len(invented)
        kept = {t.name for t in grounded.tools}
        assert not kept & invented, f"{stem}: invented tools survived grounding"
        assert grounded.provenance.dropped_items >= len(invented)
        assert all(t.evidence for t in grounded.tools)
    assert invented_total > 0, "the recorded model invented nothing; pick another document"


@needs_corpus
def test_luma_invented_tools_are_dropped_real_ones_kept() -> None:
    from stackextract.grounding.locate import ground_stack

    stem = "004_e647f7aa724063ce"
    if stem not in recorded_documents():
        pytest.skip("Luma cassette not recorded")
    doc = load_doc(stem)
    with cassette_vcr().use_cassette(manifest()["documents"][stem]["cassette"]):
        raw = replay_extractor().extract(doc)
    grounded = ground_stack(raw, doc)
    raw_names = {t.name for t in raw.tools}
    kept = {t.name for t in grounded.tools}
    text = doc.text.casefold()
    example = {t["name"] for t in load_prompts().example_output["tools"]}
    # the few-shot example's tools that the Luma text never names
    foreign = {n for n in example if not any(s.casefold() in text for s in _spellings(n))}
    copied_from_the_example = foreign & raw_names
    assert copied_from_the_example, "the recorded model copied nothing from the example"
    assert not copied_from_the_example & kept
    assert "Sentry" in kept  # named in the Luma text, and in the recorded answer


def test_to_stack_maps_canonical_names_and_skips_titles_and_phrases() -> None:
    from stackextract.catalog.vocabulary import Catalog
    from stackextract.llm.schema import to_stack
    from stackextract.models import Document, Provenance

    doc = Document(text="Luma's Tech Stack\n\nWe run Postgres.", title="Luma's Tech Stack")
    extracted = ExtractedStack.model_validate(
        {
            "company": "Luma",
            "tools": [
                {"name": "Luma's Tech Stack", "status": "uses", "category": "other", "quote": "x"},
                {"name": "Luma", "status": "uses", "category": "other", "quote": "x"},
                {"name": "a year ago we all", "status": "uses", "category": "other", "quote": "x"},
                {"name": "postgres", "status": "uses", "category": "x", "quote": "run Postgres"},
                {"name": "Postgres", "status": "evaluated", "category": "other", "quote": "x"},
            ],
            "migrations": [{"from_tool": "Postgres", "to_tool": "postgres", "quote": "x"}],
        }
    )
    stack = to_stack(extracted, doc, provenance=Provenance(backend="llm"),
                     catalog=Catalog.default())
    assert [(t.name, t.canonical, t.category.value) for t in stack.tools] == [
        ("postgres", "PostgreSQL", "database")
    ]
    assert stack.tools[0].evidence[0].quote == "run Postgres"
    assert not stack.tools[0].evidence[0].grounded
    assert stack.migrations == []
    assert stack.company == "Luma"


def test_instructor_still_rejects_async_validators_after_the_check_is_remembered() -> None:
    """The check instructor repeats per request runs once per class that passes; a class
    with an async validator (which instructor cannot run) is refused every time."""
    from instructor.v2.validation import async_validators
    from instructor.v2.validation.async_validators import async_field_validator
    from pydantic import BaseModel

    LLMExtractor(api_key="sk-x", base_url="http://127.0.0.1:9/v1", model="m")

    class Checked(BaseModel):
        name: str

        @async_field_validator("name")
        async def name_is_known(self, value: str) -> str:
            return value

    for _ in range(2):
        with pytest.raises(ValueError, match="async validators"):
            async_validators.reject_async_validators(Checked)
    async_validators.reject_async_validators(ExtractedStack)
    async_validators.reject_async_validators(ExtractedStack)  # remembered: no walk, no error
