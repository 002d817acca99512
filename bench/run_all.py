"""Run every benchmark, then write BENCHMARKS.md and bench/pipeline_scaling.png.

    .venv/bin/python bench/run_all.py              # everything, about 45-60 minutes
    .venv/bin/python bench/run_all.py --quick      # small sizes, to try the script (not published)

Needs the `bench` dependency group (matplotlib for the chart, pyinstrument for bench_phases.py;
installed here when missing, with `uv pip install --group bench`; `scripts/dev-env.sh` installs
the rest) and, for the storage benchmark, Azurite and moto (`bash scripts/tools.sh`; moto is in
the dev group); the scale-out benchmark adds Celery with two workers when `redis-server` is
there. Each benchmark is its own script, run here one after another in a
fresh process with `--json`; each figure in BENCHMARKS.md is a ratio against a baseline measured
in the same script run (alternating with it, so machine noise hits both alike), from medians of
at least 5 runs, with the absolute times beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable

FULL = {
    "cli": ["--runs", "15"],
    "assets": ["--sizes", "30,300,3000", "--runs", "5"],
    "pipeline": ["--rows", "10000", "100000", "1000000", "5000000", "--runs", "5", "--no-handoff"],
    "phases": ["--rows", "10000", "5000000", "--runs", "5"],
    "streaming": ["--rows", "20000000", "--runs", "5"],
    "storage": ["--rows", "5000000", "--repeat", "5"],
    "setup": ["--runs", "5"],
    "partitions": ["--days", "365", "--runs", "3"],
    "scaleout": ["--runs", "9", "--modes", "in-process", "workers-2"],
    # 15: a merge of 1% is ~0.1 s, and medians of 5 moved by +-20% run to run.
    "incremental": ["--rows", "10000000", "--repeat", "15", "--days", "365"],
    "contracts": ["--rows", "5000000", "--repeat", "5"],
}
QUICK = {
    "cli": ["--runs", "5"],
    "assets": ["--sizes", "30,300", "--runs", "5"],
    "pipeline": ["--rows", "10000", "100000", "--runs", "5", "--no-handoff"],
    "phases": ["--rows", "10000", "--runs", "3"],
    "streaming": ["--rows", "1000000", "--runs", "5"],
    "storage": ["--rows", "500000", "--repeat", "5"],
    "setup": ["--runs", "1"],
    "partitions": ["--days", "30", "--rows", "2000", "--runs", "1", "--reads", "3"],
    "scaleout": ["--runs", "1", "--chains", "5", "--modes", "in-process", "workers-2"],
    "incremental": ["--rows", "500000", "--repeat", "1", "--days", "30", "--repeat-reads", "1"],
    "contracts": ["--rows", "500000", "--repeat", "1"],
}
SCRIPTS = {
    "cli": "bench_cli.py",
    "assets": "bench_assets.py",
    "pipeline": "bench_pipeline.py",
    "phases": "bench_phases.py",
    "streaming": "bench_streaming.py",
    "storage": "bench_storage.py",
    "setup": "bench_setup.py",
    "partitions": "bench_partitions.py",
    "scaleout": "bench_scaleout.py",
    "incremental": "bench_incremental.py",
    "contracts": "bench_contracts.py",
}


@dataclass
class Result:
    name: str
    command: str
    seconds: float = 0.0
    returncode: int = 0
    output: str = ""
    figures: dict = field(default_factory=dict)
    load: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.figures)


def relative_command(argv: list[str]) -> str:
    """The command as someone at the repository root types it."""
    shown = [os.path.relpath(a, REPO) if a.startswith(str(REPO)) else a for a in argv]
    if argv[0] == PY:
        shown[0] = ".venv/bin/python" if Path(PY).parent.parent == REPO / ".venv" else "python"
    return shlex.join(shown)


def run(name: str, extra: list[str], tmp: Path) -> Result:
    out = tmp / f"{name}.json"
    argv = [PY, str(HERE / SCRIPTS[name]), *extra]
    result = Result(name, relative_command(argv))
    print(f"\n== {name}: {result.command}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [*argv, "--json", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = []
    assert process.stdout is not None
    done = threading.Event()

    def sample_load() -> None:  # the 1-minute load average, every 5 s, while it runs
        while not done.wait(5):
            result.load.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample_load, daemon=True)
    sampler.start()
    for line in process.stdout:
        print(f"   {line}", end="", flush=True)
        lines.append(line)
    result.returncode = process.wait()
    done.set()
    sampler.join()
    result.seconds = time.perf_counter() - started
    result.output = "".join(lines).rstrip()
    if out.exists():
        result.figures = json.loads(out.read_text())
    print(f"== {name} done in {result.seconds:.0f} s (exit {result.returncode})", flush=True)
    return result


def storage_backends() -> str:
    """The backends whose servers are installed here (local always)."""
    from polster_core.testing.servers import azurite_command, moto_command

    names = ["local"]
    if azurite_command():
        names.append("adls")
    if moto_command():
        names.append("s3")
    return ",".join(names)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("polster", "dagster", "polars", "pyarrow", "uv", "pip"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def git_state() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}{' (with uncommitted changes)' if dirty else ''}"


# ---------------------------------------------------------------------------------------------
# The chart


def chart(pipeline: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = pipeline["sizes"]
    rows = [s["rows"] for s in sizes]
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=120)
    ways = [
        ("plain_s", "plain polars script (the floor)", "#2b8a3e", "o"),
        ("polster_s", "python run_polster.py", "#1c7ed6", "s"),
        ("cli_s", "dagster asset materialize (default executor)", "#e8590c", "^"),
    ]
    for key, label, color, marker in ways:
        points = [(s["rows"], s[key]) for s in sizes if key in s]
        if points:
            xs = [x for x, _ in points]
            ys = [y for _, y in points]
            ax.plot(xs, ys, marker=marker, color=color, label=label, linewidth=2)
    for s in sizes:
        ax.annotate(
            f"{s['polster_over_plain']:.2f}x",
            (s["rows"], s["polster_s"]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
            color="#1c7ed6",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(rows)
    ax.set_xticklabels([human_rows(r) for r in rows])
    ax.set_xlabel("rows in the bronze CSV")
    ax.set_ylabel("wall seconds (median of runs)")
    ax.set_title("Pipeline time by rows: bronze CSV -> silver -> gold, parquet after each")
    ax.minorticks_off()
    ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(plt.Line2D([], [], linestyle="none"))
    labels.append("blue labels: run_polster.py / plain script")
    ax.legend(
        handles,
        labels,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=2,
        frameon=False,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def human_rows(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 1_000:
        return f"{n / 1_000:g}k"
    return str(n)


# ---------------------------------------------------------------------------------------------
# BENCHMARKS.md


def verdict(ok: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "-"}[ok]


def at_size(rows: int, goal_at: int, ok: bool) -> str:
    """The verdict, when measured at the size the goal is set for."""
    return verdict(ok) if rows == goal_at else f"- (goal is at {human_rows(goal_at)} rows)"


def goal_rows(results: dict[str, Result]) -> list[tuple[str, str, str, str, str]]:
    """(benchmark, figure, goal, verdict, absolute) for the summary table."""
    rows = []
    cli = results.get("cli")
    if cli and cli.ok:
        f = cli.figures
        rows.append(
            (
                "1 CLI start",
                f"`polster --help` CPU: {f['help_cpu_ratio']:.2f}x a bare typer app",
                "<= 1.5x",
                verdict(f["help_cpu_ratio"] <= 1.5),
                f"{f['polster_help']['cpu_s']:.3f} s vs {f['baseline_help']['cpu_s']:.3f} s CPU",
            )
        )
        rows.append(
            (
                "1 CLI start",
                f"`polster init --no-setup --no-git`: {f['init_over_baseline_wall']:.2f}x "
                "the bare app's `--help` (wall)",
                "< 0.5 s",
                verdict(f["init"]["wall_s"] < 0.5),
                f"{f['init']['wall_s']:.3f} s wall",
            )
        )
    assets = results.get("assets")
    if assets and assets.ok:
        largest = max(assets.figures["sizes"], key=lambda s: s["assets"])
        m = largest["median_wall_s"]
        base = m["polster --help (baseline)"]
        for key, label in (("add-asset (silver, 2 deps)", "add-asset"), ("list", "list")):
            rows.append(
                (
                    "2 Scaffolding",
                    f"`polster {label}` at {largest['assets']:,} assets: {m[key] / base:.2f}x "
                    "`polster --help`",
                    "< 1 s",
                    verdict(m[key] < 1.0),
                    f"{m[key]:.3f} s wall",
                )
            )
    pipeline = results.get("pipeline")
    if pipeline and pipeline.ok:
        sizes = {s["rows"]: s for s in pipeline.figures["sizes"]}
        big = sizes.get(max(sizes))
        small = sizes.get(min(sizes))
        rows.append(
            (
                "3 Pipeline",
                f"run_polster.py at {human_rows(big['rows'])} rows: "
                f"{big['polster_over_plain']:.2f}x the plain polars script",
                "<= 1.3x at 5M rows",
                at_size(big["rows"], 5_000_000, big["polster_over_plain"] <= 1.3),
                f"{big['polster_s']:.2f} s vs {big['plain_s']:.2f} s",
            )
        )
        if "nohandoff_over_plain" in big:
            rows.append(
                (
                    "3 Pipeline",
                    f"run_polster.py at {human_rows(big['rows'])} rows with the in-memory handoff "
                    f"off: {big['nohandoff_over_plain']:.2f}x the plain script",
                    "(reference)",
                    "-",
                    f"{big['polster_nohandoff_s']:.2f} s",
                )
            )
        if "cli_over_plain" in big:
            rows.append(
                (
                    "3 Pipeline",
                    f"`dagster asset materialize` at {human_rows(big['rows'])} rows: "
                    f"{big['cli_over_plain']:.2f}x the plain script",
                    "(reference)",
                    "-",
                    f"{big['cli_s']:.2f} s",
                )
            )
        rows.append(
            (
                "3 Pipeline",
                f"run_polster.py at {human_rows(small['rows'])} rows: "
                f"{small['polster_over_plain']:.2f}x the plain script",
                "< 2.5 s wall at 10k rows",
                at_size(small["rows"], 10_000, small["polster_s"] < 2.5),
                f"{small['polster_s']:.2f} s vs {small['plain_s']:.2f} s",
            )
        )
        if "cli_s" in small:
            rows.append(
                (
                    "3 Pipeline",
                    f"`dagster asset materialize` at {human_rows(small['rows'])} rows: "
                    f"{small['cli_over_plain']:.1f}x the plain script",
                    "(reference)",
                    "-",
                    f"{small['cli_s']:.2f} s",
                )
            )
        differ = [human_rows(s["rows"]) for s in sizes.values() if not s.get("same_results")]
        rows.append(
            (
                "3 Pipeline",
                "same silver and gold tables from run_polster.py and the plain script",
                "same",
                verdict(not differ),
                "differ at " + ", ".join(differ) if differ else "all sizes",
            )
        )
    streaming = results.get("streaming")
    if streaming and streaming.ok:
        f = streaming.figures
        rows.append(
            (
                "4 Streaming",
                f"LazyFrame pipeline peak RSS at {human_rows(f['rows'])} rows: "
                f"{f['lazy_over_eager_rss']:.2f}x the eager one",
                "<= 0.5x at 20M rows, same results",
                at_size(
                    f["rows"], 20_000_000, f["lazy_over_eager_rss"] <= 0.5 and f["same_results"]
                ),
                f"{f['peak_rss_mb']['lazy']:,} MB vs {f['peak_rss_mb']['eager']:,} MB; "
                f"same results: {'yes' if f['same_results'] else 'NO'}",
            )
        )
    storage = results.get("storage")
    if storage and storage.ok:
        f = storage.figures
        names = {"local": "local disk", "adls": "Azurite (ADLS)", "s3": "moto (S3)"}
        for name, b in f["backends"].items():
            m = b["median_s"]
            rows.append(
                (
                    "5 Storage",
                    f"{names.get(name, name)}, {human_rows(f['rows'])} rows: write "
                    f"{b['write_ratio']:.2f}x, read {b['read_ratio']:.2f}x polars alone",
                    f"<= {b['goal']}x at 5M rows",
                    at_size(
                        f["rows"],
                        5_000_000,
                        b["write_ratio"] <= b["goal"] and b["read_ratio"] <= b["goal"],
                    ),
                    f"write {m['storage write']:.2f} s vs {m['polars write']:.2f} s; "
                    f"read {m['storage read']:.2f} s vs {m['polars read']:.2f} s",
                )
            )
            if b["sample_share"] is not None:
                rows.append(
                    (
                        "5 Storage",
                        f"{names.get(name, name)}: the local sample adds "
                        f"{b['sample_share'] * 100:.1f} % to a write",
                        "< 5 %",
                        verdict(b["sample_share"] < 0.05),
                        f"{m['local sample alone']:.3f} s",
                    )
                )
    partitions = results.get("partitions")
    if partitions and partitions.ok:
        f = partitions.figures
        backfill, read = f["backfill"], f["read_all"]
        rows.append(
            (
                "7 Partitions",
                f"backfill of {f['days']} daily partitions in one run: "
                f"{backfill['polster_over_plain']:.2f}x a plain polars script",
                "<= 3x",
                verdict(backfill["polster_over_plain"] <= 3 and backfill["same_gold"]),
                f"{backfill['polster_s']:.2f} s vs {backfill['plain_s']:.2f} s",
            )
        )
        rows.append(
            (
                "7 Partitions",
                f"reading the {f['days']} silver partitions as one frame: "
                f"{read['polster_over_plain']:.2f}x `pl.scan_parquet` of the folder",
                "<= 1.3x",
                verdict(read["polster_over_plain"] <= 1.3 and read["same_rows"]),
                f"{read['polster_s']:.3f} s vs {read['plain_s']:.3f} s",
            )
        )
    scaleout = results.get("scaleout")
    if scaleout and scaleout.ok:
        f = scaleout.figures
        cost = f.get("per_asset")
        if cost:
            rows.append(
                (
                    "8 Scale-out",
                    f"in-process cost per asset ({cost['assets']} assets more): "
                    f"{cost['wall_ms']:.1f} ms wall, {cost['cpu_ms']:.1f} ms CPU",
                    "<= 20 ms",
                    verdict(cost["wall_ms"] <= 20),
                    f"{cost['many_s']:.2f} s vs {cost['few_s']:.2f} s",
                )
            )
        goals = {
            ("small", "workers-2"): 1.2,
            ("small", "celery-2"): 1.5,
            ("cpu", "workers-2"): 0.7,
            ("cpu", "celery-2"): 0.8,
        }
        names = {"small": f"{f['chains'] * 3 + 3} small assets", "cpu": "four one-core chains"}
        for (project, mode), goal in goals.items():
            found = f["projects"].get(project, {})
            if mode not in found or "in-process" not in found:
                continue
            figure = found[mode]
            rows.append(
                (
                    "8 Scale-out",
                    f"{names[project]}, {mode}: {figure['ratio']:.2f}x in-process",
                    f"<= {goal}x",
                    verdict(figure["ratio"] <= goal),
                    f"{figure['median_s']:.2f} s vs {found['in-process']['median_s']:.2f} s",
                )
            )
    rows += incremental_rows(results.get("incremental"))
    rows += contract_rows(results.get("contracts"))
    setup = results.get("setup")
    if setup and setup.ok:
        f = setup.figures
        rows.append(
            (
                "6 Setup",
                f"`polster setup` with uv: {f['uv_over_pip']:.2f}x venv + pip",
                "(no goal)",
                "-",
                f"{f['median_s']['uv']:.1f} s vs {f['median_s']['pip']:.1f} s",
            )
        )
    return rows


def pipeline_table(pipeline: dict) -> list[str]:
    handoff = any("polster_nohandoff_s" in s for s in pipeline["sizes"])
    lines = [
        "| rows | plain polars | run_polster.py | "
        + ("handoff off | " if handoff else "")
        + "dagster CLI | run_polster / plain | "
        + ("handoff off / plain | " if handoff else "")
        + "dagster CLI / plain | CPU s: plain / polster / CLI |",
        "|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if handoff else ""),
    ]
    for s in pipeline["sizes"]:
        cli = f"{s['cli_s']:.2f} s" if "cli_s" in s else "-"
        cli_ratio = f"{s['cli_over_plain']:.2f}x" if "cli_over_plain" in s else "-"
        cpu = " / ".join(
            f"{s[k]:.2f}" for k in ("plain_cpu_s", "polster_cpu_s", "cli_cpu_s") if k in s
        )
        off = f" {s['polster_nohandoff_s']:.2f} s |" if handoff else ""
        off_ratio = f" {s['nohandoff_over_plain']:.2f}x |" if handoff else ""
        lines.append(
            f"| {s['rows']:,} | {s['plain_s']:.2f} s | {s['polster_s']:.2f} s |{off} {cli} "
            f"| {s['polster_over_plain']:.2f}x |{off_ratio} {cli_ratio} | {cpu} |"
        )
    return lines


# BENCHMARKS.md holds what this script measured and how to read it, nothing else: each run
# rewrites it whole. Investigations (A/Bs of single changes, before/after figures, profiles)
# go to bench/NOTES.md, dated, by hand.
GUIDE = """\
- Every figure is a ratio against a baseline measured in the same script run, the two
  alternating run by run, from medians of at least 5 runs (15 for the CLI start). Absolute
  times are medians too; they move with the machine's load (the load average above says how
  busy it was), the ratios much less. Compare a new run's ratios with these, not its seconds.
- Pipeline: the plain script is the floor: the same three functions, a parquet file written
  after each, each input read back from it. run_polster.py does the same steps, writes the same
  files atomically, records rows, schema and a preview per asset, runs the silver checks and
  records the run in the project's Dagster history. At 10k rows the fixed cost of a Dagster run
  (imports, history) dominates; the ratio falls towards 1 as data grows.
- Streaming: both pipelines run with the in-memory handoff off, so the eager one is not charged
  for frames kept for downstream assets.
- Scale-out: each mode against the in-process run of the same project; the per-asset cost is
  the difference of two project sizes divided by the number of assets added.
- A goal "not met" is a figure to investigate, not noise, when it holds on a quiet machine
  (load average under about 2). What was changed for speed, the ideas measured and not adopted,
  and dated investigations are in [bench/NOTES.md](bench/NOTES.md).
"""


def write_markdown(
    path: Path,
    results: dict[str, Result],
    command: str,
    started: dt.datetime,
    elapsed: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    quick: bool,
    commit: str,
) -> None:
    """``commit``: the code measured, as :func:`git_state` said when the run started."""
    v = versions()
    busiest = max(
        ((r.name, max(r.load)) for r in results.values() if r.load),
        key=lambda item: item[1],
        default=("-", load[1][0]),
    )
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/run_all.py`, whole: do not edit by hand (investigations go to "
        "[bench/NOTES.md](bench/NOTES.md), dated). To reproduce, from the repository root:",
        "",
        "```",
        command,
        "```",
        "",
        f"- Run {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.0f} minutes, commit {commit}"
        + (" (**--quick: small sizes, not the published figures**)" if quick else ""),
        f"- Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, shared "
        f"with other work: 1-minute load average {load[0][0]:.2f} at the start and "
        f"{load[1][0]:.2f} at the end, highest {busiest[1]:.2f} (during {busiest[0]}); it "
        "counts the benchmarks' own work too (up to about 2 on this machine), so more than that "
        "means other work ran alongside. Each benchmark's range is beside its output below. "
        "The ratios, measured alternating with their baselines, are the figures; absolute "
        "times move with the load.",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "## Figures against the goals",
        "",
        "| benchmark | figure (ratio to its baseline, same run) | goal | result | absolute "
        "(median) |",
        "|---|---|---|---|---|",
    ]
    for bench, figure, goal, result, absolute in goal_rows(results):
        lines.append(f"| {bench} | {figure} | {goal} | {result} | {absolute} |")
    missing = [r for r in results.values() if not r.ok]
    for r in missing:
        lines.append(
            f"| {r.name} | did not produce figures (exit {r.returncode}) | | **not run** | |"
        )
    pipeline = results.get("pipeline")
    if pipeline and pipeline.ok:
        lines += [
            "",
            "## Pipeline time by rows",
            "",
            "The example shape (bronze reads a CSV, silver deduplicates and casts, gold groups by "
            "day), three ways: `python run_polster.py` of a generated project; a plain polars "
            "script doing the same steps and writing parquet after each (the floor); and the "
            "same assets under `dagster asset materialize --select '*'` with Dagster's default "
            "(multiprocess) executor. Each point is the median wall time of "
            f"{pipeline.figures['runs']} runs, the ways alternating. The column 'handoff off' "
            "is run_polster.py with POLSTER_HANDOFF_MB=0: each asset reads its input back from "
            "parquet, as the plain script does, instead of taking the frame its upstream just "
            "wrote.",
            "",
            "![Pipeline time by rows](bench/pipeline_scaling.png)",
            "",
            *pipeline_table(pipeline.figures),
        ]
    phases = results.get("phases")
    if phases and phases.ok:
        lines += [
            "",
            "## Where run_polster.py's time goes",
            "",
            "`bench/bench_phases.py`: the same pipeline under a sampling profiler (pyinstrument, "
            "1 ms), every sample put in one phase; median seconds of "
            f"{phases.figures['runs']} runs. The profiler slows Python-heavy phases (imports, "
            "Dagster's SQL layer) more than polars' native work, so read the shares, not the "
            "sums; the unprofiled wall time is beside them.",
            "",
        ]
        for size in phases.figures["sizes"]:
            total = size["profiled_s"]
            lines += [
                f"**{size['rows']:,} rows**: run_polster.py {size['wall_s']:.2f} s wall "
                f"(profiled part {total:.2f} s), plain polars script {size['plain_s']:.2f} s.",
                "",
                "| phase | seconds | share |",
                "|---|---:|---:|",
            ]
            for key, value in sorted(size["phases_s"].items(), key=lambda kv: -kv[1]):
                if value >= 0.005:
                    lines.append(f"| {key} | {value:.2f} | {value / total:.0%} |")
            lines.append("")
    lines += ["", "## How to read these figures", "", GUIDE.strip()]
    lines += ["", "## Each benchmark's own output", ""]
    for r in results.values():
        lines += [
            f"### {r.name}: `{r.command}`",
            "",
            f"{r.seconds:.0f} s, exit {r.returncode}"
            + (
                f"; 1-minute load average {min(r.load):.2f} to {max(r.load):.2f} while it ran."
                if r.load
                else "."
            ),
            "",
            "```",
            r.output,
            "```",
            "",
        ]
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def incremental_rows(result: Result | None) -> list[tuple[str, str, str, str, str]]:
    """Issue 29's goals: an upsert against deltalake's own merge and a full refresh; 365 daily
    loads; a read of the current version against plain parquet."""
    if not result or not result.figures:
        return []
    rows = []
    upsert, daily = result.figures.get("upsert"), result.figures.get("daily")
    if upsert:
        at = human_rows(upsert["rows"])
        rows.append(
            (
                "9 Incremental",
                f"1% upsert into {at} rows: {upsert['over_deltalake']:.2f}x deltalake's own merge",
                "<= 1.2x at 10M rows",
                at_size(upsert["rows"], 10_000_000, upsert["over_deltalake"] <= 1.2),
                f"{upsert['polster_s']:.2f} s vs {upsert['deltalake_s']:.2f} s",
            )
        )
        rows.append(
            (
                "9 Incremental",
                f"the same upsert: {upsert['full_over_polster']:.1f}x faster than a full refresh",
                ">= 5x at 10M rows",
                at_size(upsert["rows"], 10_000_000, upsert["full_over_polster"] >= 5),
                f"{upsert['full_refresh_s']:.2f} s vs {upsert['polster_s']:.2f} s",
            )
        )
    if daily:
        rows.append(
            (
                "9 Incremental",
                f"{daily['days']} daily loads: a full refresh each day takes "
                f"{daily['full_over_incremental']:.1f}x the incremental loads",
                "(report)",
                "-",
                f"{daily['full_refresh_s']:.1f} s vs {daily['incremental_s']:.1f} s",
            )
        )
        rows.append(
            (
                "9 Incremental",
                f"read of the current version after {daily['days']} loads: "
                f"{daily['read_over_parquet']:.2f}x plain parquet "
                f"({daily['read_over_parquet_after_upkeep']:.2f}x after `polster upkeep`)",
                "<= 1.3x",
                verdict(daily["read_over_parquet"] <= 1.3),
                "",
            )
        )
    return rows


def contract_rows(result: Result | None) -> list[tuple[str, str, str, str, str]]:
    """Issue 30's goals: a write checked against a ten-rule contract, and its quarantine path."""
    if not result or not result.figures:
        return []
    f = result.figures
    rows = []
    for name, b in f.get("backends", {}).items():
        for key, goal in (("validated", 1.3), ("quarantined", 1.5)):
            rows.append(
                (
                    "10 Contracts",
                    f"{name}, {human_rows(f['rows'])} rows, {f['rules']} rules: write {key} "
                    f"{b[key]:.2f}x the write without a contract",
                    f"<= {goal}x at 5M rows",
                    at_size(f["rows"], 5_000_000, b[key] <= goal),
                    f"{b['medians'][key]:.2f} s vs {b['medians']['plain']:.2f} s",
                )
            )
    return rows


def bench_group() -> None:
    """Install the ``bench`` dependency group into this Python when a module of it is missing."""
    import importlib.util

    if all(importlib.util.find_spec(m) for m in ("matplotlib", "pyinstrument")):
        return
    uv = shutil.which("uv", path=str(Path(PY).parent)) or shutil.which("uv")
    command = [uv or "uv", "pip", "install", "--quiet", "--python", PY, "--group", "bench"]
    print(f"installing the bench dependency group: {shlex.join(command)}", flush=True)
    subprocess.run(command, cwd=REPO, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    parser.add_argument(
        "--only",
        help=f"comma-separated subset of: {', '.join(SCRIPTS)} (default: all)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(SCRIPTS)}")
    bench_group()
    command = relative_command([PY, str(Path(__file__).resolve()), *sys.argv[1:]])
    started = dt.datetime.now(dt.timezone.utc)
    commit = git_state()  # the code measured (a commit made during the run is not it)
    clock = time.perf_counter()
    load_start = os.getloadavg()
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="polster-bench-all-") as tmp:
        for name in names:
            extra = list(plan[name])
            if name == "storage":
                extra += ["--backends", storage_backends()]
            if name == "scaleout" and shutil.which("redis-server"):
                extra += ["celery-2"]  # after --modes' other values
            results[name] = run(name, extra, Path(tmp))
    elapsed = time.perf_counter() - clock
    if "pipeline" in results and results["pipeline"].ok:
        chart(results["pipeline"].figures, HERE / "pipeline_scaling.png")
    write_markdown(
        args.out,
        results,
        command,
        started,
        elapsed,
        (load_start, os.getloadavg()),
        args.quick,
        commit,
    )
    print(f"\nwrote {args.out} in {elapsed / 60:.1f} minutes")
    return 0 if all(r.ok for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
