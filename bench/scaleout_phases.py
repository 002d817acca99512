"""Where a run of bench_scaleout.py's projects spends its time, by executor: before the first
step starts, the steps (first start to last success), and after the last step.

    .venv/bin/python bench/scaleout_phases.py [--project cpu|small] [--runs 5] [MODE ...]

Each MODE is the arguments of ``run_polster.py`` joined by commas ("" is in-process; the
default modes are "" and "--workers,2"; ratios are to the first mode). The times come from the
run's own events in the project's Dagster history, against the process's start and exit
measured outside; each figure is the median of ``--runs`` runs, the modes taking turns. No
goal: this is the "why" of bench_scaleout.py's ratios (what start-up both pay, what the steps
themselves gain).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_scaleout import make_cpu, make_small, step_times, timed


def phases(project, args: list[str]) -> tuple[float, float, float, float]:
    """Seconds to the first step's start, of the steps, after the last step, and in all."""
    started = time.time()
    timed(project, args)
    ended = time.time()
    steps = step_times(project).values()
    first, last = min(start for start, _ in steps), max(end for _, end in steps)
    return first - started, last - first, ended - last, ended - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", choices=["cpu", "small"], default="cpu")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=160_000, help="rows per cpu silver step")
    parser.add_argument("--chains", type=int, default=30, help="chains of the small project")
    parser.add_argument("modes", nargs="*", default=["", "--workers,2"])
    args = parser.parse_args()
    project = make_cpu(args.rows) if args.project == "cpu" else make_small(args.chains)
    modes = [[a for a in mode.split(",") if a] for mode in args.modes]
    found: list[list[tuple[float, ...]]] = [[] for _ in modes]
    phases(project, [])  # a first run, not counted: files cached, history created
    for _ in range(args.runs):
        for i, mode in enumerate(modes):
            found[i].append(phases(project, mode))
    print(f"{args.project} project, median of {args.runs} runs (seconds)")
    print(
        f"{'mode':<16}{'to 1st step':>12}{'steps':>8}{'after':>8}{'total':>8}{'x in-process':>14}"
    )
    for mode, runs in zip(modes, found, strict=True):
        medians = [statistics.median(run[k] for run in runs) for k in range(4)]
        base = statistics.median(run[3] for run in found[0])
        print(
            f"{' '.join(mode) or 'in-process':<16}{medians[0]:>12.2f}{medians[1]:>8.2f}"
            f"{medians[2]:>8.2f}{medians[3]:>8.2f}{medians[3] / base:>14.2f}"
        )


if __name__ == "__main__":
    main()
