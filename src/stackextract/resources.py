"""Find the data that ships with the package (prompts, schemas), installed or in a checkout.

In a wheel, `prompts/` and `schemas/` live under `stackextract/_bundled/`; in a source
checkout (or an editable install) they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(kind: str) -> Path:
    """The directory holding `kind` ("prompts" or "schemas")."""
    bundled = _PACKAGE_DIR / "_bundled" / kind
    if bundled.is_dir():
        return bundled
    checkout = _PACKAGE_DIR.parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"stackextract's {kind}/ folder is missing from {bundled} and {checkout}; "
        "reinstall the package"
    )


def resource_path(kind: str, name: str) -> Path:
    return resource_dir(kind) / name
