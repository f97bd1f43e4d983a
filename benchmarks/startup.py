"""Start-up cost of a one-shot command, next to `python -c "import trafilatura"`.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--file fixtures/corpus/...txt]
    .venv/bin/python benchmarks/startup.py --before /tmp/base/src   # and an older src/, same run

Runs, alternating, `python -c "import trafilatura"` (the floor: the library the offline
path is built on), `python -c "import stackextract"` and `stackextract extract FILE
--backend offline` (plain and --json), each in a fresh interpreter, and prints the median CPU
(user + system) and wall time of each and the ratio to the floor. Target: the one-shot
extract <= 1.5x the floor in CPU, with the dev extra installed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "fixtures" / "corpus" / "004_e647f7aa724063ce.txt"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(argv: list[str], src: str | None = None) -> tuple[float, float]:
    """CPU and wall seconds of one run of `argv` (output discarded; it must succeed), with
    `src` first on the import path when given (an older checkout's src/, for "before")."""
    env = {**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    if src:
        env["PYTHONPATH"] = src
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return _children_cpu() - c0, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--before", default=None,
                        help="an older src/ directory: its commands run alternating with these")
    args = parser.parse_args(argv)
    py = sys.executable
    cli = [py, "-m", "stackextract", "extract", str(args.file), "--backend", "offline"]
    commands: dict[str, tuple[list[str], str | None]] = {
        'python -c "import trafilatura"': ([py, "-c", "import trafilatura"], None),
        'python -c "import stackextract"': ([py, "-c", "import stackextract"], None),
        "stackextract extract FILE --backend offline": (cli, None),
        "stackextract extract FILE --backend offline --json": ([*cli, "--json"], None),
    }
    if args.before:
        commands.update({
            "before: " + name: (command, args.before)
            for name, (command, _) in list(commands.items())[1:]
        })
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    for command, src in commands.values():  # once each, untimed: disk cache, .pyc files
        measure(command, src)
    for _ in range(args.runs):
        for name, (command, src) in commands.items():
            c, w = measure(command, src)
            cpu[name].append(c)
            wall[name].append(w)
    floor = statistics.median(cpu['python -c "import trafilatura"'])
    floor_wall = statistics.median(wall['python -c "import trafilatura"'])
    before = f" --before {args.before}" if args.before else ""
    print(f"$ {Path(py).name} benchmarks/startup.py --runs {args.runs}{before}  "
          f"(file {args.file.name})")
    print(f"{'command':62} {'CPU s':>7} {'x floor':>8} {'wall s':>7} {'x floor':>8}")
    for name in commands:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"{name:62} {c:7.3f} {c / floor:8.2f} {w:7.3f} {w / floor_wall:8.2f}")
    print(f"medians of {args.runs} runs each, alternating")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
