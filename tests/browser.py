"""Headless Chromium for the review tests: dump the DOM after scripts ran, take screenshots.

Debian's `chromium` (installed by .ci/run where missing). Every run gets a fresh profile
and the flags that keep it off the network (no background fetches, no component updates).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT = 60


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def need_chromium() -> str:
    exe = chromium()
    if exe is None and os.environ.get("STACKEXTRACT_REQUIRE_CHROMIUM"):
        pytest.fail("headless Chromium is required here (STACKEXTRACT_REQUIRE_CHROMIUM) but "
                    "not installed: apt-get install -y chromium")
    if exe is None:
        pytest.skip("headless Chromium not installed (apt-get install -y chromium; "
                    ".ci/run installs it)")
    return exe


def run_chromium(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    exe = need_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-extensions",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def dump_dom(page: Path, *extra: str) -> str:
    """The DOM as serialized by Chromium after loading the page and running its scripts."""
    proc = run_chromium(*extra, "--dump-dom", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip(), proc.stderr[-2000:]
    return proc.stdout


def screenshot(page: Path, png: Path, *, size: str = "1280,900") -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    proc = run_chromium(f"--screenshot={png}", f"--window-size={size}",
                        "--hide-scrollbars", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return png
