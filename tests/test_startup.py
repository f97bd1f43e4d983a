"""A one-shot offline extract loads only what it uses (start-up: docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT = ROOT / "fixtures" / "corpus" / "004_e647f7aa724063ce.txt"
# what a plain-text extract without --db never needs: HTML cleaning, the store, the model
# client, fuzzy matching, YAML front matter, and rich when the output is piped
NOT_NEEDED = ["trafilatura", "lxml", "htmldate", "sqlite_utils", "pandas", "numpy", "openai",
              "instructor", "httpx", "rapidfuzz", "yaml", "rich", "ray", "sklearn"]

def _loaded_after(args: list[str]) -> tuple[str, list[str]]:
    code = (
        "import json, sys\n"
        f"sys.argv = ['stackextract', *{args!r}]\n"
        "from stackextract.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED=' + json.dumps([m for m in {NOT_NEEDED!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    out, _, loaded = done.stdout.rpartition("LOADED=")
    return out, json.loads(loaded)


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_one_shot_offline_extract_of_a_text_file_stays_light(extra: list[str]) -> None:
    out, loaded = _loaded_after(["extract", str(TEXT), "--backend", "offline", *extra])
    assert loaded == []
    assert "PostgreSQL" in out  # it did extract (the Luma writeup names Postgres)


def test_piped_output_is_plain_text_with_the_same_tables() -> None:
    out, _ = _loaded_after(["extract", str(TEXT), "--backend", "offline"])
    lines = out.splitlines()
    assert any(line.startswith("Tools (") for line in lines)
    assert any(line.split()[:3] == ["tool", "category", "status"] for line in lines)
    stack, _ = _loaded_after(["extract", str(TEXT), "--backend", "offline", "--json"])
    tools = {t["canonical"] for t in json.loads(stack)["tools"]}
    rows = {line.split("  ")[0].strip() for line in lines}
    assert tools <= rows


def test_piped_output_of_a_stack_without_tools(tmp_path: Path) -> None:
    """A page that names no tool still prints its (empty) Tools table, not a traceback."""
    page = tmp_path / "recipe.txt"
    page.write_text("Whisk two eggs with a pinch of salt, then fold in the flour slowly.\n"
                    "Bake for twenty minutes until golden.\n", encoding="utf-8")
    out, _ = _loaded_after(["extract", str(page), "--backend", "offline"])
    assert "Tools (0)" in out.splitlines()
    assert out.splitlines()[-1].split() == ["tool", "category", "status", "conf", "evidence"]
