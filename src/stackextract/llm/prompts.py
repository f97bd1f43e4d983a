"""Prompt files: where they live, how they are loaded, and the version stored with results.

The prompt version is a short sha256 of the files' names and contents, so any edit to a
prompt changes the cache key and is visible in every stored result.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from stackextract.errors import ConfigError

PROMPT_FILES = ("system.txt", "instructions.txt", "example.json")
ENV_PROMPTS_DIR = "STACKEXTRACT_PROMPTS_DIR"


@dataclass(frozen=True)
class Prompts:
    """The loaded prompt files and their version hash."""

    system: str
    instructions: str
    example_text: str
    example_output: dict[str, Any]
    version: str
    directory: Path


def find_prompts_dir(directory: str | Path | None = None) -> Path:
    """The prompts folder: argument > $STACKEXTRACT_PROMPTS_DIR > installed copy > `prompts/`."""
    candidates: list[Path] = []
    if directory is not None:
        candidates.append(Path(directory))
    elif os.environ.get(ENV_PROMPTS_DIR):
        candidates.append(Path(os.environ[ENV_PROMPTS_DIR]))
    else:
        here = Path(__file__).resolve().parent.parent  # the stackextract package
        candidates += [here / "_bundled" / "prompts", here.parent.parent / "prompts"]
    for path in candidates:
        if all((path / name).is_file() for name in PROMPT_FILES):
            return path
    raise ConfigError(
        f"prompt files {', '.join(PROMPT_FILES)} not found in {', '.join(map(str, candidates))}; "
        f"set {ENV_PROMPTS_DIR} to a folder that has them"
    )


def prompt_version(directory: Path) -> str:
    """12 hex digits of sha256 over every prompt file's name and bytes."""
    digest = hashlib.sha256()
    for name in PROMPT_FILES:
        digest.update(name.encode() + b"\0" + (directory / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@lru_cache(maxsize=8)
def _load(directory: Path, stamp: tuple[float, ...]) -> Prompts:
    def read(name: str) -> str:
        return (directory / name).read_text(encoding="utf-8").strip()

    try:
        example = json.loads(read("example.json"))
        example_text, example_output = str(example["text"]), dict(example["output"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{directory / 'example.json'} must be JSON with 'text' and 'output': {exc}"
        ) from exc
    return Prompts(
        system=read("system.txt"),
        instructions=read("instructions.txt"),
        example_text=example_text,
        example_output=example_output,
        version=prompt_version(directory),
        directory=directory,
    )


def load_prompts(directory: str | Path | None = None) -> Prompts:
    """Load (and cache until a file changes) the prompt files."""
    path = find_prompts_dir(directory)
    stamp = tuple((path / name).stat().st_mtime for name in PROMPT_FILES)
    return _load(path, stamp)


def build_messages(
    prompts: Prompts,
    text: str,
    *,
    title: str | None = None,
    part: int = 1,
    parts: int = 1,
    hints: list[str] | None = None,
) -> list[dict[str, str]]:
    """Chat messages for one chunk: system, instructions + few-shot pair, then the chunk."""
    example_answer = json.dumps(prompts.example_output, ensure_ascii=False)
    header = []
    if title:
        header.append(f"Title: {title}")
    if parts > 1:
        header.append(f"Part {part} of {parts} of the writeup.")
    if hints:
        header.append(
            "Names a dictionary found in this part (check each against the text): "
            + ", ".join(hints)
        )
    user = "\n".join([*header, "Text:", text])
    return [
        {"role": "system", "content": f"{prompts.system}\n\n{prompts.instructions}"},
        {"role": "user", "content": f"Text:\n{prompts.example_text}"},
        {"role": "assistant", "content": example_answer},
        {"role": "user", "content": user},
    ]
