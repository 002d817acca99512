"""CLI speed: `polster --help` against a bare typer app, and `polster init --no-setup --no-git`.

    .venv/bin/python bench/bench_cli.py [--runs 15] [--json FILE]

Prints medians of CPU time (user+sys of the child) and wall time, and the ratio that is the
figure (both measured in this run, alternating, so machine noise hits both alike).
Goals (issue 2): --help CPU <= 1.5x the bare app; init under 0.5 s wall.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def measure(argv: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    runs = args.runs
    env = dict(os.environ)
    work = Path(tempfile.mkdtemp(prefix="polster-bench-"))
    polster = [str(BIN / "polster")]
    baseline = [sys.executable, str(HERE / "baseline_typer_app.py")]
    results: dict[str, list[tuple[float, float]]] = {"polster": [], "baseline": [], "init": []}
    # Warm the page cache, and write the bytecode a first run writes: with
    # PYTHONDONTWRITEBYTECODE set (as in some shells and CI images), every run would compile
    # the modules changed since their .pyc was written, and the figure would be Python's
    # compiler, not the CLI's start. The measured runs keep the environment as it is.
    warm = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for argv in (polster + ["--help"], baseline + ["--help"]):
        measure(argv, work, warm)
    init = polster + ["init", "bench-project", "--no-setup", "--no-git", "--no-input"]
    (work / "warm").mkdir()
    measure(init, work / "warm", warm)
    for i in range(runs):
        results["polster"].append(measure(polster + ["--help"], work, env))
        results["baseline"].append(measure(baseline + ["--help"], work, env))
        target = work / f"p{i}"
        target.mkdir()
        results["init"].append(measure(init, target, env))
    shutil.rmtree(work)

    def med(key: str, index: int) -> float:
        return statistics.median(r[index] for r in results[key])

    print(f"runs: {runs} (median), python {sys.version.split()[0]}")
    print(f"{'measure':<42}{'wall s':>10}{'cpu s':>10}")
    for key, label in (
        ("baseline", "bare typer app --help"),
        ("polster", "polster --help"),
        ("init", "polster init --no-setup --no-git"),
    ):
        print(f"{label:<42}{med(key, 0):>10.3f}{med(key, 1):>10.3f}")
    ratio = med("polster", 1) / med("baseline", 1)
    print(f"polster --help CPU / bare typer CPU: {ratio:.2f}x (goal <= 1.5x)")
    print(f"polster init wall: {med('init', 0):.3f} s (goal < 0.5 s)")
    if args.json:
        figures = {
            "runs": runs,
            "baseline_help": {"wall_s": med("baseline", 0), "cpu_s": med("baseline", 1)},
            "polster_help": {"wall_s": med("polster", 0), "cpu_s": med("polster", 1)},
            "init": {"wall_s": med("init", 0), "cpu_s": med("init", 1)},
            "help_cpu_ratio": ratio,
            "init_over_baseline_wall": med("init", 0) / med("baseline", 0),
        }
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
