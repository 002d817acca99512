"""Executors against each other: in-process, --workers 2 (and Dagster's own multiprocess
executor, and Celery with two workers when polster-celery and a Redis server are there).

    .venv/bin/python bench/bench_scaleout.py [--runs 3] [--chains 30] [--modes ...] [--json FILE]

Two projects, made once under bench/.cache (delete it to rebuild):
- small: the example plus ``--chains`` bronze -> silver -> gold chains made with
  ``polster add-asset`` (93 assets with the default 30): Polster's and Dagster's overhead.
- cpu: four independent chains whose silver step runs a Python function per row (one core busy
  for about a second each): what parallel workers are for.

Beside them, what one more asset costs in one process, for Polster and for the same graph in
plain Dagster (dagster_alone.py).

Each figure is the median wall time of ``python run_polster.py ...`` (interpreter start to
exit), and its ratio to the in-process run of the same project; the modes take turns run by
run, so that a slow spell of a shared machine falls on each alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from project_runs import children_cpu, env_for, polster

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"

CPU_SILVER = '''"""Silver {i}: a Python function per row (keeps one core busy)."""

import polars as pl

ROWS = {rows}


def _score(value: int) -> int:
    total = 0
    for k in range(60):
        total = (total * 31 + value + k) % 1000003
    return total


def transform(df: pl.DataFrame) -> pl.DataFrame:
    """Score every row in Python."""
    frame = pl.DataFrame({{"n": range(ROWS)}})
    return frame.with_columns(pl.col("n").map_elements(_score, return_dtype=pl.Int64).alias("s"))
'''


def make_small(chains: int) -> Path:
    project = CACHE / f"small-{chains}" / "small"
    if (project / "run_polster.py").exists():
        return project
    shutil.rmtree(project.parent, ignore_errors=True)
    project.parent.mkdir(parents=True)
    polster("init", "small", "--no-setup", "--no-git", "--no-input", cwd=project.parent)
    for i in range(chains):
        add_chain(project, i)
    return project


def add_chain(project: Path, i: int) -> None:
    polster("add-asset", "-l", "bronze", "-n", f"b{i}", "--no-input", cwd=project)
    polster("add-asset", "-l", "silver", "-n", f"s{i}", "-d", f"b{i}", "--no-input", cwd=project)
    polster("add-asset", "-l", "gold", "-n", f"g{i}", "-d", f"s{i}", "--no-input", cwd=project)


def make_cpu(rows: int) -> Path:
    project = CACHE / f"cpu-{rows}" / "cpu"
    if (project / "run_polster.py").exists():
        return project
    shutil.rmtree(project.parent, ignore_errors=True)
    project.parent.mkdir(parents=True)
    polster("init", "cpu", "--no-setup", "--no-git", "--no-input", cwd=project.parent)
    for i in range(4):
        add_chain(project, i)
        core = project / f"src/core/silver_s{i}.py"
        core.write_text(CPU_SILVER.format(i=i, rows=rows), encoding="utf-8")
    return project


def timed(project: Path, args: list[str], extra: dict | None = None) -> float:
    return timed_cpu(project, args, extra)[0]


def timed_cpu(project: Path, args: list[str], extra: dict | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, its worker processes included) of one
    ``python run_polster.py ...``."""
    cpu = children_cpu()
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env={**env_for(project), **(extra or {})},
        capture_output=True,
        text=True,
    )
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    if result.returncode != 0 or result.stderr.strip():
        raise SystemExit(f"{args} failed in {project}:\n{result.stdout}\n{result.stderr}")
    return seconds, cpu


def per_asset(
    few: list[tuple[float, float]], many: list[tuple[float, float]], extra: int, into: dict
) -> str:
    """What one more asset costs: medians of the many-asset runs minus the few-asset ones
    (also put in ``into``, for ``--json``)."""
    wall = [statistics.median(t[0] for t in runs) for runs in (few, many)]
    cpu = [statistics.median(t[1] for t in runs) for runs in (few, many)]
    into.update(
        few_s=round(wall[0], 3),
        many_s=round(wall[1], 3),
        assets=extra,
        wall_ms=round((wall[1] - wall[0]) / extra * 1000, 2),
        cpu_ms=round((cpu[1] - cpu[0]) / extra * 1000, 2),
    )
    return (
        f"({wall[1]:.2f} s - {wall[0]:.2f} s) / {extra} assets = "
        f"{(wall[1] - wall[0]) / extra * 1000:.1f} ms wall, "
        f"{(cpu[1] - cpu[0]) / extra * 1000:.1f} ms CPU"
    )


def _score_rows(rows: int) -> float:
    """Seconds to run the cpu silver step's per-row function over ``rows`` rows."""
    namespace: dict = {}
    exec(CPU_SILVER.format(i=0, rows=rows), namespace)  # the step's own module
    score = namespace["_score"]
    start = time.perf_counter()
    for value in range(rows):
        score(value)
    return time.perf_counter() - start


def two_at_once(rows: int, runs: int) -> tuple[float, float]:
    """(seconds for one process, speed-up of two processes at once) running the cpu silver's
    function: how much faster two one-core steps go side by side on this machine, the ceiling
    of any two-worker executor here (2.0 on two free cores)."""
    import multiprocessing

    one, both = [], []
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for _ in range(runs):
            one.append(_score_rows(rows))
            start = time.perf_counter()
            pool.map(_score_rows, [rows, rows])
            both.append(time.perf_counter() - start)
    return statistics.median(one), 2 * statistics.median(one) / statistics.median(both)


def step_times(project: Path) -> dict[str, tuple[float, float]]:
    """(start, success) timestamps of each step of the project's last run, from its events."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    with dg.DagsterInstance.from_config(str(project / ".dagster")) as instance:
        (run,) = instance.get_runs(limit=1)
        started: dict[str, float] = {}
        times: dict[str, tuple[float, float]] = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            key = event.step_key if event else None
            if not key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                started[key] = record.timestamp
            elif event.event_type == DagsterEventType.STEP_SUCCESS and key in started:
                times[key] = (started[key], record.timestamp)
    return times


def silver_steps(project: Path) -> list[float]:
    """Seconds each one-core silver step took in the project's last run (its step events)."""
    return [
        end - start
        for key, (start, end) in step_times(project).items()
        if key.startswith("run_silver_s")
    ]


def dagster_alone(chains: int, kind: str) -> tuple[float, float]:
    cpu = children_cpu()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(Path(__file__).parent / "dagster_alone.py"), str(chains), kind],
        env=env_for(ROOT),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start, children_cpu() - cpu


MODES = {
    "in-process": [],
    "workers-2": ["--workers", "2"],
    "dagster-multiprocess-2": ["--executor", "dagster-multiprocess", "--workers", "2"],
    "celery-2": ["--executor", "celery"],
}


class Celery:
    """A Redis broker of its own and two Celery workers (``run_polster.py --worker``, one step
    at a time each) for ``project``, started before the timed runs and stopped by PID."""

    def __init__(self, project: Path):
        import socket
        import tempfile

        server = shutil.which("redis-server")
        if server is None:
            raise SystemExit("celery-2 needs redis-server (bash scripts/tools.sh installs it)")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.home = Path(tempfile.mkdtemp(prefix="bench-redis-"))
        subprocess.run(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(self.home), "--daemonize", "yes", "--pidfile",
             str(self.home / "pid"), "--logfile", str(self.home / "log")],
            check=True,
        )  # fmt: skip
        for _ in range(100):
            if (self.home / "pid").exists():
                break
            time.sleep(0.05)
        self.env = {
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0",
            "POLSTER_SHARED_DISK": "true",
            "POLSTER_DISABLE_PLUGIN_AUTOLOAD": "",
        }
        self.workers = [
            subprocess.Popen(
                [sys.executable, "run_polster.py", "--worker", "--executor", "celery",
                 "--workers", "1"],
                cwd=project,
                env={**env_for(project), **self.env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for _ in range(2)
        ]  # fmt: skip
        time.sleep(8)  # the workers load the project and connect

    def stop(self) -> None:
        import signal

        for worker in self.workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        pid = int((self.home / "pid").read_text())
        os.kill(pid, 15)
        shutil.rmtree(self.home, ignore_errors=True)


def print_per_asset(args: argparse.Namespace, figures: dict) -> None:
    # What one more asset costs in one process: the 93-asset project against a 9-asset one
    # (2 chains and the example), so interpreter start, imports and the instance cancel out.
    few, many = make_small(2), make_small(args.chains)
    timed(few, [])
    timed(many, [])
    # Alternated, so a slow spell of a shared machine falls on both projects alike.
    runs: dict[str, list] = {"few": [], "many": []}
    for _ in range(args.runs):
        runs["few"].append(timed_cpu(few, []))
        runs["many"].append(timed_cpu(many, []))
    extra = 3 * (args.chains - 2)
    own = figures.setdefault("per_asset", {})
    print(f"in-process cost per asset: {per_asset(runs['few'], runs['many'], extra, own)}")
    # The same graph in plain Dagster (dagster_alone.py: 3 and chains+1 chains, each silver
    # asset with three checks), on an ephemeral instance and on Dagster's default SQLite one.
    for kind in ("ephemeral", "sqlite"):
        alone: dict[str, list] = {"few": [], "many": []}
        for _ in range(args.runs):
            alone["few"].append(dagster_alone(3, kind))
            alone["many"].append(dagster_alone(args.chains + 1, kind))
        into = figures.setdefault("dagster_alone_per_asset", {}).setdefault(kind, {})
        print(
            f"Dagster alone, same graph, {kind} instance: "
            f"{per_asset(alone['few'], alone['many'], extra, into)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chains", type=int, default=30)
    parser.add_argument("--rows", type=int, default=160000, help="rows per cpu silver step")
    parser.add_argument(
        "--modes", nargs="+", default=["in-process", "workers-2"], choices=list(MODES)
    )
    parser.add_argument("--projects", nargs="+", default=["small", "cpu"], choices=["small", "cpu"])
    parser.add_argument("--no-per-asset", action="store_true", help="skip the per-asset figures")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    figures: dict = {"runs": args.runs, "chains": args.chains, "rows": args.rows, "projects": {}}
    makers = {"small": lambda: make_small(args.chains), "cpu": lambda: make_cpu(args.rows)}
    projects = {name: makers[name]() for name in args.projects}
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if not args.no_per_asset:
        print_per_asset(args, figures)

    print(f"{'project':<8} {'mode':<24} {'median s':>9} {'x in-process':>13}  (runs: {args.runs})")
    for label, project in projects.items():
        timed(project, [])  # warm the disk cache and create the history
        # The modes take turns run by run, so a slow spell of the machine falls on each alike;
        # the Celery workers wait idle (blocked on the broker) during the other modes' runs.
        celery = Celery(project) if "celery-2" in args.modes else None
        try:
            times: dict[str, list[float]] = {mode: [] for mode in args.modes}
            steps: list[float] = []  # the one-core steps of the in-process runs
            for _ in range(args.runs):
                for mode in args.modes:
                    extra = celery.env if mode == "celery-2" and celery else None
                    times[mode].append(timed(project, MODES[mode], extra))
                    if label == "cpu" and mode == "in-process":
                        steps += silver_steps(project)
        finally:
            if celery:
                celery.stop()
        base = statistics.median(times[args.modes[0]])
        modes = figures["projects"].setdefault(label, {})
        for mode in args.modes:
            median = statistics.median(times[mode])
            modes[mode] = {"median_s": round(median, 3), "ratio": round(median / base, 3)}
            print(f"{label:<8} {mode:<24} {median:>9.2f} {median / base:>13.2f}", flush=True)
        if label == "cpu" and args.modes[0] == "in-process":
            alone, speedup = two_at_once(args.rows, args.runs)
            step = statistics.median(steps)
            # The best two workers can do: the four one-core steps (as long as in the
            # in-process runs) at the machine's two-process speed, everything else (start-up,
            # the small steps) as long as in one process.
            best = (base - 4 * step + 4 * step / speedup) / base
            figures["cpu_bound"] = {
                "step_s": round(step, 3),
                "function_alone_s": round(alone, 3),
                "two_at_once_speedup": round(speedup, 3),
                "best_ratio": round(best, 3),
            }
            print(
                f"cpu: a one-core step takes {step:.2f} s in one process (median of "
                f"{len(steps)}; the per-row function alone {alone:.2f} s); two at once go "
                f"{speedup:.2f}x as fast as one on this machine, so two workers can reach "
                f"{best:.2f}x in-process at best"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
