"""A built wheel, installed outside the checkout, still finds its catalog, prompts and schemas."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
         str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0 and "hatchling" in proc.stderr:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)],
            capture_output=True, text=True, timeout=300,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheels = list(out.glob("stackextract-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_contains_data_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "stackextract/data/catalog.json" in names
    assert "stackextract/py.typed" in names
    assert "stackextract/_bundled/schemas/stack.schema.json" in names
    assert any(n.startswith("stackextract/_bundled/prompts/") for n in names)


def test_installed_wheel_works_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    script = (
        "import stackextract, sys\n"
        "from stackextract.resources import resource_dir\n"
        "from stackextract.catalog import Catalog\n"
        f"assert stackextract.__file__.startswith({str(target)!r}), stackextract.__file__\n"
        "assert len(Catalog.bundled()) >= 1500\n"
        "for kind in ('prompts', 'schemas'):\n"
        "    d = resource_dir(kind)\n"
        "    assert '_bundled' in str(d) and any(d.iterdir()), d\n"
        f"stack = stackextract.extract({str(CORPUS / '06_wg2-jenkins-to-concourse-2019.md')!r},"
        " backend='offline')\n"
        "print(sorted(t.canonical for t in stack.tools))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Concourse" in proc.stdout


def test_wheel_declares_the_ray_extra(wheel: Path) -> None:
    """`pip install 'stackextract[ray]'` brings Ray Data and pyarrow, and only with the extra."""
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    lines = archive.read(metadata).decode().splitlines()
    assert "Provides-Extra: ray" in lines
    ray_deps = [line for line in lines if line.startswith("Requires-Dist:") and "'ray'" in line]
    assert any(line.startswith("Requires-Dist: ray[data]") for line in ray_deps), ray_deps
    assert any(line.startswith("Requires-Dist: pyarrow") for line in ray_deps), ray_deps
    core = [line for line in lines if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any(line.startswith(("Requires-Dist: ray", "Requires-Dist: pyarrow"))
                   for line in core)
    assert "stackextract/ray/worker.py" in archive.namelist()
