"""What each use of Dagster's private internals buys: a run with Polster's faster path against
the same run with that concern's fallback to Dagster's stock behaviour forced
(``POLSTER_DAGSTER_FALLBACK``, see docs/dagster-upgrades.md).

    .venv/bin/python bench/bench_fallbacks.py [--chains 30] [--runs 3] [--json FILE]

The "small" project of bench_scaleout.py (the example plus ``--chains`` bronze -> silver -> gold
chains: 93 assets with the default 30, made once under bench/.cache). Pairs, each the median
wall time of ``python run_polster.py ...`` (interpreter start to exit), the two of a pair taking
turns run by run; the ratio is the fallback's time over Polster's:

- history: in process, Polster's SQLite history against Dagster's stock SQLite storage;
- pool: ``--workers 2``, Polster's worker pool against Dagster's multiprocess executor;
- all: ``--workers 2`` with every fallback forced (history and pool);
- celery (``--pairs celery``, needs ``redis-server``): ``--executor celery`` with two workers
  each, Polster's loop, submission and worker task against dagster-celery's own (the fallback's
  workers started with it forced too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import bench_scaleout
from bench_scaleout import Celery, make_small
from project_runs import env_for

PAIRS = {
    "history": ([], "history"),
    "pool": (["--workers", "2"], "pool"),
    "all": (["--workers", "2"], "all"),
    "celery": (["--executor", "celery"], "celery"),
}


def timed(project: Path, args: list[str], extra: dict | None = None) -> float:
    """Wall seconds of one ``python run_polster.py ...`` that succeeds (Dagster's multiprocess
    executor, the pool's fallback, prints its own step lines on stderr: not a failure)."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env={**env_for(project), **(extra or {})},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0 or "Succeeded:" not in result.stdout:
        raise SystemExit(f"{args} failed in {project}:\n{result.stdout}\n{result.stderr}")
    return seconds


def celery_pair(project: Path) -> tuple[Celery, Celery]:
    """Two Redis brokers with two workers each: Polster's, and with the fallback forced."""
    fast = Celery(project)
    plain = bench_scaleout.env_for
    bench_scaleout.env_for = lambda p: {**plain(p), "POLSTER_DAGSTER_FALLBACK": "celery"}
    try:
        stock = Celery(project)
    finally:
        bench_scaleout.env_for = plain
    return fast, stock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--pairs", nargs="+", default=["history", "pool", "all"], choices=list(PAIRS)
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    project = make_small(args.chains)
    assets = 3 + 3 * args.chains
    print(f"load average before: {os.getloadavg()[0]:.2f}; {assets} assets, runs: {args.runs}")
    timed(project, [])  # warm the disk cache and create the history
    print(f"{'fallback':<9} {'run':<16} {'polster s':>10} {'stock s':>9} {'x polster':>10}")
    figures: dict = {"assets": assets, "runs": args.runs, "pairs": {}}
    for name in args.pairs:
        flags, forced = PAIRS[name]
        times: dict[str, list[float]] = {"polster": [], "stock": []}
        env: dict[str, dict] = {"polster": {}, "stock": {"POLSTER_DAGSTER_FALLBACK": forced}}
        workers = celery_pair(project) if name == "celery" else ()
        if workers:
            env["polster"].update(workers[0].env)
            env["stock"].update(workers[1].env)
        try:
            for _ in range(args.runs):
                for way in ("polster", "stock"):
                    times[way].append(timed(project, flags, env[way]))
        finally:
            for celery in workers:
                celery.stop()
        polster_s, stock_s = (statistics.median(times[k]) for k in ("polster", "stock"))
        figures["pairs"][name] = {
            "flags": flags,
            "polster_s": round(polster_s, 3),
            "stock_s": round(stock_s, 3),
            "ratio": round(stock_s / polster_s, 3),
        }
        run = " ".join(flags) or "in process"
        ratio = stock_s / polster_s
        print(f"{name:<9} {run:<16} {polster_s:>10.2f} {stock_s:>9.2f} {ratio:>9.2f}x")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
