"""Where `python run_polster.py`'s time goes: the pipeline of bench_pipeline.py, profiled.

    .venv/bin/python bench/bench_phases.py [--rows 10000 5000000] [--runs 5] [--json FILE]

Each run is `run_polster.py` under pyinstrument (a sampling profiler, 1 ms, little overhead),
in its own process; every sample is put in one phase (imports, Dagster's instance and history,
the IO manager, the asset functions, ...), and the table shows the median seconds of each phase.
The process's wall time (measured outside, so it includes interpreter start and exit) and the
plain polars script's are printed beside it. No figure against a goal: this is the "why".
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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import make_csv, make_project  # noqa: E402

PROFILE = r'''
"""Run run_polster.py under pyinstrument; write seconds per phase as JSON to argv[1]."""
import json
import runpy
import sys

from pyinstrument import Profiler

out = sys.argv[1]
profiler = Profiler(interval=0.001)
profiler.start()
sys.argv = ["run_polster.py"]
try:
    runpy.run_path("run_polster.py", run_name="__main__")
except SystemExit:
    pass
profiler.stop()

IMPORT = "import "


def import_phase(path):
    if "/polars/" in path or "/pyarrow/" in path or "/_polars" in path:
        return "import polars"
    if "/polster_core/" in path or "/src/" in path:
        return "import polster and the project"
    return "import dagster (and sqlalchemy, alembic, pydantic, ...)"


def phase(frame, current):
    fn, path = frame.function or "", frame.file_path or ""
    # A module's own code counts for its package, even when another package imports it.
    if fn == "<module>" and any(p in path for p in ("site-packages", "/polster_core/", "/src/")):
        return import_phase(path)
    if current.startswith(IMPORT):
        return current
    if "/src/core/" in path:
        return "asset functions (polars)"
    if fn in ("write_parquet", "sink_parquet") and "/polars/" in path:
        return "parquet writes (polars)"
    if fn in ("read_parquet", "scan_parquet") and "/polars/" in path:
        return "parquet reads (polars)"
    if current in ("asset functions (polars)", "parquet writes (polars)", "parquet reads (polars)"):
        return current
    if "polster_core/runtime.py" in path and fn in ("handle_output", "load_input"):
        return "Polster IO manager (rows, schema, preview, handoff)"
    if "compute_log" in path:
        return "Dagster log capture (stdout/stderr files)"
    if "dagster/_core/storage/" in path or "/sqlalchemy/" in path or "/alembic/" in path:
        if current.startswith("Polster IO manager"):
            return current
        return "Dagster history (SQLite event log and run storage)"
    if current != "other":
        return current
    if fn == "get" and path.endswith("dagster/_core/instance/instance.py"):
        return "Dagster instance"
    if fn == "pipeline_job":
        return "load definitions"
    if fn in ("execute_in_process", "execute_job"):
        return "Dagster run machinery"
    return current


phases = {}


def walk(frame, current):
    here = phase(frame, current)
    own = frame.time - sum(c.time for c in frame.children)
    phases[here] = phases.get(here, 0.0) + own
    for child in frame.children:
        walk(child, here)


root = profiler.last_session.root_frame()
walk(root, "other")
phases["profiled total"] = root.time
with open(out, "w") as f:
    json.dump(phases, f)
'''


def run_once(project: Path, env: dict, out: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "_profile_run.py", str(out)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0 or not out.exists():
        raise SystemExit(f"profiled run failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(out.read_text()), wall


def plain_once(project: Path, env: dict, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "plain.py", str(out)], cwd=project, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 5_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="polster-bench-phases-"))
    report = {"runs": args.runs, "sizes": []}
    try:
        project = make_project(work)
        (project / "_profile_run.py").write_text(PROFILE)
        base = {k: v for k, v in os.environ.items() if not k.startswith("POLSTER_")}
        for rows in args.rows:
            csv = work / f"events_{rows}.csv"
            make_csv(csv, rows)
            env = {
                **base,
                "BENCH_CSV": str(csv),
                "DAGSTER_HOME": str(work / "home"),
                "PYTHONPATH": str(project / "src"),
            }
            (work / "home").mkdir(exist_ok=True)
            (work / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            run_once(project, env, work / "warm.json")  # page cache, bytecode
            profiles, walls, plains = [], [], []
            for i in range(args.runs):
                phases, wall = run_once(project, env, work / f"p{i}.json")
                profiles.append(phases)
                walls.append(wall)
                plains.append(plain_once(project, env, work / "plain-out"))
            names = sorted({k for p in profiles for k in p}, key=lambda k: -profiles[0].get(k, 0))
            median = {k: statistics.median(p.get(k, 0.0) for p in profiles) for k in names}
            wall = statistics.median(walls)
            plain = statistics.median(plains)
            total = median.pop("profiled total")
            print(
                f"\n{rows:,} rows: run_polster.py {wall:.2f} s wall in its process "
                f"(profiled part {total:.2f} s); plain polars script {plain:.2f} s"
            )
            print(f"  {'phase':<58}{'s':>7}{'share':>8}")
            for key in sorted(median, key=lambda k: -median[k]):
                if median[key] >= 0.005:
                    print(f"  {key:<58}{median[key]:>7.2f}{median[key] / total:>8.0%}")
            report["sizes"].append(
                {
                    "rows": rows,
                    "wall_s": wall,
                    "plain_s": plain,
                    "profiled_s": total,
                    "phases_s": median,
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
