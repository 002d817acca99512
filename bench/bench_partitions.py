"""Partitioned assets (issue 12): a single-run backfill, reading every partition, gold's memory.

    .venv/bin/python bench/bench_partitions.py [--days 365] [--rows 10000] [--runs 3]
        [--reads 7] [--json FILE]

A project made in a temporary folder with the real CLI: ``polster init``, the example removed,
``polster add-asset`` for bronze ``events`` (``--partitions daily --start ...``), silver
``clean_events`` (daily like its upstream) and gold ``kpis`` (``--partitions none``). Core
functions doing simple real work: bronze makes ``--rows`` rows for its day (deterministic),
silver filters and casts, gold aggregates per day over every partition lazily. Three figures,
each a ratio measured within this one invocation:

1. Backfill: ``python run_polster.py --from START --to END`` (``--days`` partitions, one run:
   checked in the project's Dagster history and the summary line) against a plain polars script
   doing the same reads and writes (N bronze files hive-style, each read back, N silver files,
   the silver folder scanned, gold written). Medians of ``--runs``, the two alternating after a
   warm-up of each. Goal: <= 3x. The gold tables of both are compared.
2. Reading all N silver partitions as one frame: ``PartitionedTable.scan_all().collect()`` (what
   the IO manager gives an unpartitioned downstream, ``polster_core.run.partitioned_io``) against
   ``pl.scan_parquet(folder, hive_partitioning=True).collect()``, alternating in one process,
   median of ``--reads``. Goal: <= 1.3x.
3. Peak RSS of ``python run_polster.py --select run_gold_kpis`` (the unpartitioned gold alone,
   in a fresh process) with 90 and with N silver partitions stored (the others moved aside),
   beside the same gold query in plain polars (``scan_parquet`` of the folder, ``sink_parquet``)
   at the same counts: what Polster adds should stay flat (the gold streams; the query's own
   state, the per-day sets of ``n_unique``, grows with the data in both; a silver table
   collected in memory is shown for scale).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from project_runs import children_cpu, env_for, polster

SMALL = 90  # the smaller partition count of figure 3

BRONZE = '''"""Bench bronze events: {rows} deterministic rows per day."""

import datetime as dt

import polars as pl

ROWS = {rows}


def extract(day: str) -> pl.DataFrame:
    """Make the raw events of one day."""
    seed = int(day.replace("-", ""))
    start = dt.datetime.strptime(day, "%Y-%m-%d")
    return (
        pl.DataFrame({{"event_id": pl.int_range(0, ROWS, eager=True)}})
        .with_columns(
            event_id=pl.col("event_id") + (seed % 100_000) * ROWS,
            user_id=((pl.col("event_id") * 7919 + seed) % 100_003).cast(pl.String),
            event_type=((pl.col("event_id") + seed) % 4).replace_strict(
                {{0: "view", 1: "click", 2: "signup", 3: "purchase"}}
            ),
            amount=(((pl.col("event_id") + seed) % 97) * 1.5).cast(pl.String),
            ts=(
                pl.lit(start) + pl.duration(seconds=(pl.col("event_id") * 7) % 86_400)
            ).dt.strftime("%Y-%m-%d %H:%M:%S"),
        )
    )
'''

SILVER = '''"""Bench silver clean_events: no views, typed columns."""

import polars as pl

REQUIRED_COLUMNS = ["event_id", "user_id", "ts"]
KEY_COLUMNS = ["event_id"]


def transform(df: pl.DataFrame) -> pl.DataFrame:
    """Drop views, cast the text columns."""
    return df.filter(pl.col("event_type") != "view").with_columns(
        pl.col("user_id").cast(pl.Int64),
        pl.col("amount").cast(pl.Float64),
        pl.col("ts").str.to_datetime("%Y-%m-%d %H:%M:%S"),
    )
'''

GOLD = '''"""Bench gold kpis: per-day aggregates over every partition, lazily."""

import polars as pl


def aggregate(df: pl.LazyFrame) -> pl.LazyFrame:
    """Users, events and revenue per day."""
    return (
        df.group_by(pl.col("ts").dt.date().alias("day"))
        .agg(
            pl.col("user_id").n_unique().alias("users"),
            pl.len().alias("events"),
            pl.col("amount").sum().alias("revenue"),
        )
        .sort("day")
    )
'''

PLAIN = """
import sys
from pathlib import Path

sys.path.insert(0, "src")
import polars as pl

from core.bronze_events import extract
from core.gold_kpis import aggregate
from core.silver_clean_events import transform

out = Path(sys.argv[1])
days = sys.argv[2:]
bronze, silver = out / "bronze/events", out / "silver/clean_events"
for day in days:
    (bronze / f"date={day}").mkdir(parents=True, exist_ok=True)
    extract(day).write_parquet(bronze / f"date={day}/data.parquet")
for day in days:
    (silver / f"date={day}").mkdir(parents=True, exist_ok=True)
    frame = pl.read_parquet(bronze / f"date={day}/data.parquet")
    transform(frame).write_parquet(silver / f"date={day}/data.parquet")
(out / "gold").mkdir(parents=True, exist_ok=True)
aggregate(pl.scan_parquet(silver, hive_partitioning=True)).sink_parquet(out / "gold/kpis.parquet")
"""

READ = """
import json
import statistics
import sys
import time
from pathlib import Path

import polars as pl
from polster_core.partitions import PartitionedTable
from polster_core.storage import get_storage

repeats = int(sys.argv[1])
folder = Path("data/silver/clean_events")
table = PartitionedTable(get_storage(Path.cwd()), "silver", "clean_events")


def polster():
    return table.scan_all().collect()


def plain():
    return pl.scan_parquet(folder, hive_partitioning=True).collect()


ways = {"polster": polster, "plain": plain}
times = {k: [] for k in ways}
frames = {k: f() for k, f in ways.items()}  # warm-up
for _ in range(repeats):
    for key, read in ways.items():
        start = time.perf_counter()
        read()
        times[key].append(time.perf_counter() - start)
a, b = frames["polster"], frames["plain"]
print(json.dumps({
    "times": times,
    "rows": a.height,
    "same_rows": a.height == b.height and a.drop("date").equals(b.drop("date")),
    "mb": round(a.estimated_size("mb"), 1),
}))
"""

GOLD_PLAIN = """
import sys

sys.path.insert(0, "src")
import polars as pl

from core.gold_kpis import aggregate

aggregate(pl.scan_parquet("data/silver/clean_events", hive_partitioning=True)).sink_parquet(
    sys.argv[1]
)
"""

RSS = """
import resource
import subprocess
import sys
import time

start = time.perf_counter()
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
if result.returncode != 0:
    sys.exit(result.stdout + result.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, seconds)
"""


def make_project(where: Path, start: str, rows: int) -> Path:
    polster("init", "bench-parts", "--no-setup", "--no-git", "--no-input", cwd=where)
    project = where / "bench-parts"
    for layer in ("gold", "silver", "bronze"):
        polster("remove-asset", "--layer", layer, "--name", "example", "--purge-data", cwd=project)
    polster(
        "add-asset",
        "-l",
        "bronze",
        "-n",
        "events",
        "--partitions",
        "daily",
        "--start",
        start,
        "--no-input",
        cwd=project,
    )
    polster(
        "add-asset", "-l", "silver", "-n", "clean_events", "-d", "events", "--no-input", cwd=project
    )
    polster(
        "add-asset",
        "-l",
        "gold",
        "-n",
        "kpis",
        "-d",
        "clean_events",
        "--partitions",
        "none",
        "--no-input",
        cwd=project,
    )
    (project / "src/core/bronze_events.py").write_text(BRONZE.format(rows=rows))
    (project / "src/core/silver_clean_events.py").write_text(SILVER)
    (project / "src/core/gold_kpis.py").write_text(GOLD)
    (project / "plain.py").write_text(PLAIN)
    (project / "read_bench.py").write_text(READ)
    (project / "gold_plain.py").write_text(GOLD_PLAIN)
    return project


def run(argv: list[str], project: Path) -> tuple[float, str]:
    """(wall seconds, stdout) of one run; any failure ends the benchmark with its output."""
    start, cpu = time.perf_counter(), children_cpu()
    result = subprocess.run(argv, cwd=project, env=env_for(project), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    LAST_CPU[0] = children_cpu() - cpu
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds, result.stdout


LAST_CPU = [0.0]  # CPU seconds (user + system, every thread) of the last run()


def run_count(project: Path) -> int:
    db = project / ".dagster/history/runs.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from runs").fetchone()[0]


def backfill(project: Path, first: str, last: str, days: int) -> float:
    """One timed ``run_polster.py --from --to``; checks that it was one run of N partitions."""
    before = run_count(project)
    seconds, out = run([sys.executable, "run_polster.py", "--from", first, "--to", last], project)
    runs = run_count(project) - before
    if runs != 1 or "(one run)" not in out or f"({days} partition(s))" not in out:
        raise SystemExit(f"the backfill was not one run of {days} partitions ({runs} runs):\n{out}")
    return seconds


def summary_line(out: str) -> str:
    return next((line for line in out.splitlines() if line.startswith("Succeeded")), "?")


def gold_rss(project: Path, keep: int, days: list[str]) -> tuple[float, float, float]:
    """(peak RSS in MB, wall seconds, the plain script's peak RSS in MB) of the gold alone with
    the first ``keep`` silver partitions stored (the others moved aside meanwhile)."""
    table = project / "data/silver/clean_events"
    aside = project / "aside"
    aside.mkdir(exist_ok=True)
    moved = list(days[keep:])
    for day in moved:
        (table / f"date={day}").rename(aside / f"date={day}")
    try:
        argv = [sys.executable, "-c", RSS, sys.executable, "run_polster.py", "--select"]
        _, out = run([*argv, "run_gold_kpis"], project)
        plain = project / "gold-plain.parquet"
        _, plain_out = run(
            [sys.executable, "-c", RSS, sys.executable, "gold_plain.py", str(plain)], project
        )
    finally:
        for day in moved:
            (aside / f"date={day}").rename(table / f"date={day}")
    import polars as pl

    covered = pl.read_parquet(project / "data/gold/kpis.parquet").height  # a row per day
    if covered != keep:
        raise SystemExit(f"the gold read {covered} partitions, not {keep}")
    kb, seconds = out.split()
    return int(kb) / 1024, float(seconds), int(plain_out.split()[0]) / 1024


def same_gold(project: Path, plain_out: Path) -> bool:
    import polars as pl
    from polars.testing import assert_frame_equal

    ours = pl.read_parquet(project / "data/gold/kpis.parquet")
    theirs = pl.read_parquet(plain_out / "gold/kpis.parquet")
    try:
        assert_frame_equal(ours, theirs, check_exact=False)
    except AssertionError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="partitions in the backfill")
    parser.add_argument("--rows", type=int, default=10_000, help="rows per bronze partition")
    parser.add_argument("--runs", type=int, default=3, help="timed backfills of each way")
    parser.add_argument("--reads", type=int, default=7, help="timed reads of each way")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    today = dt.date.today()
    start = min(dt.date(2024, 1, 1), today - dt.timedelta(days=args.days + 2))
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(args.days)]
    work = Path(tempfile.mkdtemp(prefix="polster-bench-parts-"))
    try:
        figures = measure(args, work, days)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def measure(args: argparse.Namespace, work: Path, days: list[str]) -> dict:
    project = make_project(work, days[0], args.rows)
    plain_out = work / "plain-out"
    print(
        f"python {sys.version.split()[0]}, {args.days} daily partitions of {args.rows:,} rows "
        f"({days[0]} to {days[-1]}), load average {os.getloadavg()[0]:.2f}"
    )

    # 1. The backfill, one run, against the plain script.
    plain_argv = [sys.executable, "plain.py", str(plain_out), *days]
    first = backfill(project, days[0], days[-1], args.days)  # warm-up, and the history exists
    run(plain_argv, project)
    times: dict[str, list[float]] = {"plain": [], "polster": []}
    cpu: dict[str, list[float]] = {"plain": [], "polster": []}
    for _ in range(args.runs):
        times["plain"].append(run(plain_argv, project)[0])
        cpu["plain"].append(LAST_CPU[0])
        times["polster"].append(backfill(project, days[0], days[-1], args.days))
        cpu["polster"].append(LAST_CPU[0])
    same = same_gold(project, plain_out)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["polster"] / med["plain"]
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"\n1. backfill of {args.days} partitions (median of {args.runs}, wall seconds)")
    print(f"   plain polars script        {med['plain']:>8.2f}")
    print(f"   run_polster.py --from --to {med['polster']:>8.2f}   (first run {first:.2f})")
    print(
        f"   ratio {ratio:.2f}x (goal <= 3x); one run per backfill: yes "
        f"({run_count(project)} runs in the history after {args.runs + 1} backfills)"
        + ("" if same else "; GOLD TABLES DIFFER")
    )
    print(
        f"   CPU seconds (user + system, all threads): plain {cpu_med['plain']:.2f}, "
        f"polster {cpu_med['polster']:.2f} ({cpu_med['polster'] / cpu_med['plain']:.2f}x; "
        f"load average now {os.getloadavg()[0]:.2f})"
    )

    # 2. Reading all N partitions as one frame.
    _, out = run([sys.executable, "read_bench.py", str(args.reads)], project)
    read = json.loads(out)
    read_med = {k: statistics.median(v) for k, v in read["times"].items()}
    read_ratio = read_med["polster"] / read_med["plain"]
    print(f"\n2. reading the {args.days} silver partitions as one frame (median of {args.reads})")
    print(f"   pl.scan_parquet(folder, hive_partitioning=True)  {read_med['plain']:>7.3f} s")
    print(f"   PartitionedTable.scan_all().collect()            {read_med['polster']:>7.3f} s")
    print(
        f"   ratio {read_ratio:.2f}x (goal <= 1.3x); {read['rows']:,} rows, {read['mb']} MB "
        f"in memory{'' if read['same_rows'] else '; FRAMES DIFFER'}"
    )

    # 3. The unpartitioned gold's peak memory at a few partition counts.
    counts = sorted({min(SMALL, args.days), args.days})
    rss = {n: gold_rss(project, n, days) for n in counts}
    print("\n3. peak RSS of run_polster.py --select run_gold_kpis (one fresh process each)")
    print("   against the same gold query in plain polars (scan_parquet -> sink_parquet)")
    for n, (mb, seconds, plain_mb) in rss.items():
        print(
            f"   {n:>5} silver partitions   {mb:>7.0f} MB   {seconds:>6.2f} s   "
            f"plain {plain_mb:>5.0f} MB   polster - plain {mb - plain_mb:>5.0f} MB"
        )
    small, large = rss[counts[0]], rss[counts[-1]]
    growth = large[0] / small[0]
    overhead = (large[0] - large[2]) - (small[0] - small[2])
    print(
        f"   {counts[-1]} / {counts[0]} partitions: {growth:.2f}x the memory, plain polars "
        f"{large[2] / small[2]:.2f}x (the query's own state); Polster's part grew "
        f"{overhead:+.0f} MB (the whole silver table collected is {read['mb']} MB)"
    )
    return {
        "days": args.days,
        "rows_per_day": args.rows,
        "backfill": {
            "runs": args.runs,
            **{f"{k}_s": round(v, 3) for k, v in med.items()},
            "polster_over_plain": round(ratio, 3),
            **{f"{k}_cpu_s": round(v, 3) for k, v in cpu_med.items()},
            "first_polster_s": round(first, 3),
            "one_run_each": True,
            "same_gold": same,
            "all_wall_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
        },
        "read_all": {
            "repeats": args.reads,
            **{f"{k}_s": round(v, 4) for k, v in read_med.items()},
            "polster_over_plain": round(read_ratio, 3),
            "rows": read["rows"],
            "frame_mb": read["mb"],
            "same_rows": read["same_rows"],
        },
        "gold_peak_rss_mb": {str(n): round(mb, 1) for n, (mb, _, _) in rss.items()},
        "gold_plain_peak_rss_mb": {str(n): round(p, 1) for n, (_, _, p) in rss.items()},
        "gold_rss_growth": round(growth, 3),
        "gold_polster_part_growth_mb": round(overhead, 1),
    }


if __name__ == "__main__":
    main()
