"""Streaming: the example pipeline with pl.LazyFrame assets against the eager one, at 20M rows.

    .venv/bin/python bench/bench_streaming.py [--rows 20000000] [--runs 5] [--json FILE]

Each way runs as `python run_polster.py` in its own process under GNU time; the figure is the
ratio of peak memory (max RSS, median of the runs), measured in this invocation. The results
of both ways are compared row for row. Both run with the in-memory handoff off
(POLSTER_HANDOFF_MB=0): the eager pipeline reads each upstream table back from storage instead
of keeping the frame it wrote, so its peak is not inflated by the handoff.
Goal (issue 7): lazy peak RSS <= 0.5x eager.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import make_csv  # noqa: E402

BIN = Path(sys.executable).parent

EAGER = {
    "bronze": '''import os

import polars as pl


def extract() -> pl.DataFrame:
    """Read the raw events CSV."""
    return pl.read_csv(os.environ["BENCH_CSV"])
''',
    "silver": '''import polars as pl

REQUIRED_COLUMNS = ["event_id", "timestamp", "amount"]
KEY_COLUMNS = ["event_id"]


def transform(df: pl.DataFrame) -> pl.DataFrame:
    """Cast and filter."""
    return df.with_columns(
        pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S"),
        pl.col("amount").cast(pl.Float64),
    ).filter(pl.col("amount") > 0).with_columns(pl.col("timestamp").dt.date().alias("date"))
''',
    "gold": '''import polars as pl


def aggregate(df: pl.DataFrame) -> pl.DataFrame:
    """Group by day."""
    return df.group_by("date").agg(
        pl.len().alias("events"), pl.col("amount").sum().alias("revenue")
    ).sort("date")
''',
}

LAZY = {
    layer: text.replace("pl.DataFrame", "pl.LazyFrame").replace("pl.read_csv", "pl.scan_csv")
    for layer, text in EAGER.items()
}


def make_project(where: Path, name: str, core: dict[str, str]) -> Path:
    subprocess.run(
        [
            str(BIN / "polster"),
            "init",
            name,
            "--no-setup",
            "--no-git",
            "--no-input",
            "--path",
            str(where),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    project = where / name
    for layer, text in core.items():
        (project / f"src/core/{layer}_example.py").write_text(text)
        wrapper = project / f"src/orchestration/assets/{layer}/run_{layer}_example.py"
        if core is LAZY:
            wrapper.write_text(wrapper.read_text().replace("pl.DataFrame", "pl.LazyFrame"))
    return project


def run(project: Path, env: dict) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one `python run_polster.py`."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M %e", sys.executable, "run_polster.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(out.stdout + out.stderr)
    kb, wall = out.stderr.strip().splitlines()[-1].split()
    return int(kb) / 1024, float(wall)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    import polars as pl

    work = Path(tempfile.mkdtemp(prefix="polster-bench-stream-"))
    csv = work / "events.csv"
    make_csv(csv, args.rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLSTER_")}
    env.update(BENCH_CSV=str(csv), POLSTER_HANDOFF_MB="0")
    projects = {
        "eager": make_project(work, "eager", EAGER),
        "lazy": make_project(work, "lazy", LAZY),
    }
    figures: dict[str, list[tuple[float, float]]] = {k: [] for k in projects}
    for _ in range(args.runs):
        for key, project in projects.items():
            figures[key].append(run(project, {**env, "DAGSTER_HOME": str(project / ".dagster")}))
    same = all(
        pl.read_parquet(projects["eager"] / f"data/{layer}/example.parquet")
        .sort(pl.all())
        .equals(pl.read_parquet(projects["lazy"] / f"data/{layer}/example.parquet").sort(pl.all()))
        for layer in ("silver", "gold")
    )
    rss = {k: statistics.median(r for r, _ in v) for k, v in figures.items()}
    wall = {k: statistics.median(w for _, w in v) for k, v in figures.items()}
    csv_gb = csv.stat().st_size / 1e9
    print(f"rows: {args.rows:,}, runs: {args.runs} (median), csv {csv_gb:.2f} GB")
    print(f"{'way':<8}{'peak RSS MB':>14}{'wall s':>10}")
    for key in projects:
        print(f"{key:<8}{rss[key]:>14,.0f}{wall[key]:>10.2f}")
    print(
        f"lazy/eager peak RSS: {rss['lazy'] / rss['eager']:.2f}x (goal <= 0.5x); "
        f"same results: {same}"
    )
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        figures_out = {
            "rows": args.rows,
            "runs": args.runs,
            "csv_gb": round(csv_gb, 2),
            "peak_rss_mb": {k: round(v) for k, v in rss.items()},
            "wall_s": {k: round(v, 2) for k, v in wall.items()},
            "all_runs": {k: [[round(r), w] for r, w in v] for k, v in figures.items()},
            "lazy_over_eager_rss": round(rss["lazy"] / rss["eager"], 3),
            "same_results": same,
        }
        args.json.write_text(json.dumps(figures_out, indent=2))


if __name__ == "__main__":
    main()
