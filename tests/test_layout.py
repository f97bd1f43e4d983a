"""The package layout: a subpackage per stage, no import circles, a light import."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "stackextract"

# the order of the data flow: a unit may import only units before it in this list
LAYERS = [
    "_version", "errors", "models", "resources",
    "sources", "catalog", "offline", "llm", "grounding", "extractors", "pipeline",
    "store", "batch", "ray", "evaluation", "review", "cli",
]
ENTRY_POINTS = {"__init__", "__main__"}  # the package's own face: may import anything


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _unit_imports() -> dict[str, set[str]]:
    """Which top-level units (subpackage or module) each unit imports, from the source."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        unit = path.relative_to(PACKAGE).with_suffix("").parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                parts = target.split(".")
                if parts[0] == "stackextract" and len(parts) > 1 and parts[1] != unit:
                    graph[unit].add(parts[1])
    return graph


def test_no_relative_imports_that_hide_the_stage() -> None:
    """Imports name their stage (`from stackextract.sources.fetch import ...`), never `..`."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level > 1
    ]
    assert offenders == []


def test_every_unit_is_a_known_stage() -> None:
    units = {path.relative_to(PACKAGE).with_suffix("").parts[0] for path in PACKAGE.rglob("*.py")}
    assert units - ENTRY_POINTS <= set(LAYERS), sorted(units - ENTRY_POINTS - set(LAYERS))


def test_a_stage_imports_only_earlier_stages() -> None:
    """Lower stages never import higher ones, so there can be no circle between stages."""
    wrong = []
    for unit, targets in _unit_imports().items():
        if unit in ENTRY_POINTS:
            continue
        for target in targets:
            if LAYERS.index(target) >= LAYERS.index(unit):
                wrong.append(f"{unit} imports {target}")
    assert wrong == []


def test_sources_know_nothing_of_later_stages() -> None:
    assert _unit_imports()["sources"] <= {"_version", "errors", "models", "resources"}


def _import_alone(module: str) -> tuple[str, int, str]:
    done = subprocess.run([sys.executable, "-c", f"import {module}"],
                          capture_output=True, text=True, timeout=120)
    return module, done.returncode, (done.stderr.strip().splitlines()[-1:] and \
        done.stderr.strip().splitlines()[-1]) or ""


@pytest.mark.slow
def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    """A circle of imports shows up as an ImportError for whichever module is loaded first."""
    modules = [m for m in _modules() if not m.endswith("__main__")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        failed = [(m, err) for m, code, err in pool.map(_import_alone, modules) if code]
    assert failed == []


def test_import_stackextract_is_light() -> None:
    """The records and errors load with the package; every heavy library waits for its use."""
    heavy = ["sqlite_utils", "pandas", "numpy", "openai", "instructor", "trafilatura", "httpx",
             "rapidfuzz", "lxml", "ray", "sklearn"]
    code = ("import sys, stackextract; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == ""


def test_public_api_is_reachable_from_the_package() -> None:
    import stackextract

    for name in stackextract.__all__:
        assert getattr(stackextract, name) is not None, name
