"""Pipeline speed: the example shape (bronze reads a CSV, silver deduplicates and casts, gold
groups) run three ways, at several sizes, all in one invocation.

    .venv/bin/python bench/bench_pipeline.py [--rows 10000 5000000] [--runs 5] [--skip-dagster-cli]
        [--no-handoff] [--json FILE]

1. `python run_polster.py` of a generated project (Polster: one process, IO manager, metadata);
2. a plain polars script doing the same steps and writing parquet after each (the floor);
3. the same assets under `dagster asset materialize --select '*'` (Dagster's default executor).

Figures are medians of wall time; the ratio to the plain script (same run, alternating) is the
figure. CPU time (user + system of the process and its children) is printed too. After the runs
at each size, the silver and gold tables of run_polster.py and of the plain script are compared.
Goals (issue 7): at 5M rows run_polster <= 1.3x the plain script; at 10k rows < 2.5 s.
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

BIN = Path(sys.executable).parent

BRONZE = '''"""Bench bronze: raw events from a CSV file."""

import os

import polars as pl


def extract() -> pl.DataFrame:
    """Read the raw events CSV."""
    return pl.read_csv(os.environ["BENCH_CSV"])
'''

SILVER = '''"""Bench silver: deduplicated and typed events."""

import polars as pl

REQUIRED_COLUMNS = ["event_id", "user_id", "timestamp"]
KEY_COLUMNS = ["event_id"]


def transform(df: pl.DataFrame) -> pl.DataFrame:
    """Deduplicate and cast."""
    return df.unique(subset="event_id", keep="first").with_columns(
        pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S"),
        pl.col("amount").cast(pl.Float64),
    ).with_columns(pl.col("timestamp").dt.date().alias("date"))
'''

GOLD = '''"""Bench gold: per-day aggregates."""

import polars as pl


def aggregate(df: pl.DataFrame) -> pl.DataFrame:
    """Group by day."""
    return df.group_by("date").agg(
        pl.col("user_id").n_unique().alias("users"),
        pl.len().alias("events"),
        pl.col("amount").sum().alias("revenue"),
    ).sort("date")
'''

PLAIN = """
import sys
from pathlib import Path

sys.path.insert(0, "src")
import polars as pl

from core.bronze_example import extract
from core.gold_example import aggregate
from core.silver_example import transform

out = Path(sys.argv[1])
for layer in ("bronze", "silver", "gold"):
    (out / layer).mkdir(parents=True, exist_ok=True)
bronze, silver, gold = (out / f"{layer}/example.parquet" for layer in ("bronze", "silver", "gold"))
extract().write_parquet(bronze)
transform(pl.read_parquet(bronze)).write_parquet(silver)
aggregate(pl.read_parquet(silver)).write_parquet(gold)
"""


def make_csv(path: Path, rows: int) -> None:
    import polars as pl

    ids = pl.int_range(0, rows, eager=True)
    df = (
        pl.DataFrame({"event_id": ids})
        .with_columns(
            user_id=(pl.col("event_id") * 7919) % 100_003,
            event_type=pl.col("event_id")
            .mod(4)
            .replace_strict({0: "view", 1: "click", 2: "signup", 3: "purchase"}),
            amount=(pl.col("event_id") % 97).cast(pl.Float64) * 1.5,
            timestamp=pl.datetime(2026, 1, 1) + pl.duration(seconds=pl.col("event_id") * 7),
        )
        .with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M:%S"))
    )
    df.write_csv(path)


def make_project(where: Path) -> Path:
    subprocess.run(
        [
            str(BIN / "polster"),
            "init",
            "bench-pipe",
            "--no-setup",
            "--no-git",
            "--no-input",
            "--path",
            str(where),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    project = where / "bench-pipe"
    (project / "src/core/bronze_example.py").write_text(BRONZE)
    (project / "src/core/silver_example.py").write_text(SILVER)
    (project / "src/core/gold_example.py").write_text(GOLD)
    (project / "plain.py").write_text(PLAIN)
    return project


def timed(argv: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def same_results(project: Path, plain_out: Path) -> bool:
    """Whether run_polster.py (the last way that wrote the project's data) and the plain script
    wrote the same silver and gold tables."""
    import polars as pl

    return all(
        pl.read_parquet(project / f"data/{layer}/example.parquet")
        .sort(pl.all())
        .equals(pl.read_parquet(plain_out / f"{layer}/example.parquet").sort(pl.all()))
        for layer in ("silver", "gold")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 5_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-dagster-cli", action="store_true")
    parser.add_argument(
        "--no-handoff",
        action="store_true",
        help="also time run_polster.py with POLSTER_HANDOFF_MB=0 (every input read back from "
        "parquet, as the plain script does)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="polster-bench-pipe-"))
    project = make_project(work)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("POLSTER_")}
    figures = []
    print(f"python {sys.version.split()[0]}, {args.runs} runs each (median wall seconds)")
    print(
        f"{'rows':>10} {'plain polars':>13} {'run_polster':>12} {'dagster CLI':>12} "
        f"{'polster/plain':>14} {'cli/plain':>10}"
    )
    for rows in args.rows:
        csv = work / f"events_{rows}.csv"
        make_csv(csv, rows)
        env = {**base_env, "BENCH_CSV": str(csv), "DAGSTER_HOME": str(work / "dagster-home")}
        (work / "dagster-home").mkdir(exist_ok=True)
        (work / "dagster-home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        cli_env = {**env, "PYTHONPATH": str(project / "src")}
        ways = {"plain": ([sys.executable, "plain.py", str(work / "plain-out")], cli_env)}
        if not args.skip_dagster_cli:
            ways["cli"] = (
                [
                    str(BIN / "dagster"),
                    "asset",
                    "materialize",
                    "--select",
                    "*",
                    "-m",
                    "orchestration.definitions",
                    "-d",
                    "src",
                ],
                cli_env,
            )
        if args.no_handoff:
            no_handoff = {**cli_env, "POLSTER_HANDOFF_MB": "0"}
            ways["polster_nohandoff"] = ([sys.executable, "run_polster.py"], no_handoff)
        # Last in each round, so the project's data compared below is run_polster.py's.
        ways["polster"] = ([sys.executable, "run_polster.py"], cli_env)
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in ways}
        for argv, way_env in ways.values():  # warm-up: page cache, bytecode
            timed(argv, project, way_env)
        for _ in range(args.runs):
            for key, (argv, way_env) in ways.items():
                runs[key].append(timed(argv, project, way_env))
        same = same_results(project, work / "plain-out")
        med = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
        cli = med.get("cli")
        row = {
            "rows": rows,
            **{f"{k}_s": round(v, 3) for k, v in med.items()},
            **{f"{k}_cpu_s": round(v, 3) for k, v in cpu.items()},
            "polster_over_plain": round(med["polster"] / med["plain"], 3),
            "same_results": same,
            "all_wall_s": {k: [round(w, 3) for w, _ in v] for k, v in runs.items()},
        }
        if cli:
            row["cli_over_plain"] = round(cli / med["plain"], 3)
        if "polster_nohandoff" in med:
            row["nohandoff_over_plain"] = round(med["polster_nohandoff"] / med["plain"], 3)
        figures.append(row)
        print(
            f"{rows:>10,} {med['plain']:>13.2f} {med['polster']:>12.2f} "
            f"{(f'{cli:.2f}' if cli else '-'):>12} {row['polster_over_plain']:>13.2f}x "
            f"{(str(round(row['cli_over_plain'], 2)) + 'x') if cli else '-':>10}"
            + (
                f"  (handoff off: {med['polster_nohandoff']:.2f} s, "
                f"{row['nohandoff_over_plain']:.2f}x)"
                if "polster_nohandoff" in med
                else ""
            )
            + f"{'' if same else '  RESULTS DIFFER'}",
            flush=True,
        )
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "sizes": figures}, indent=2))


if __name__ == "__main__":
    main()
