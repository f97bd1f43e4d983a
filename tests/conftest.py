"""Shared paths and fixtures. HTTP servers live in tests/*_servers.py and start on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = FIXTURES / "corpus"
GOLD = FIXTURES / "gold"
HTML_PAGE = FIXTURES / "html" / "X1_mercurial-python3-reflections-2020.html"

# No test may reach a real model endpoint configured on the developer's machine.
for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STACKEXTRACT_CATALOG", "STACKEXTRACT_BACKEND"):
    os.environ.pop(_var, None)


@pytest.fixture
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture
def gold_dir() -> Path:
    return GOLD


@pytest.fixture
def html_page() -> Path:
    return HTML_PAGE
