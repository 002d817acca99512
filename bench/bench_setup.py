"""`polster setup` with uv against venv + pip, on the same generated project, in one run.

    .venv/bin/python bench/bench_setup.py [--runs 5] [--json FILE]

Polster picks uv when it finds it (on PATH or beside the Python running polster) and falls
back to `python -m venv` + pip. Here two small tool environments hold this repository's polster,
one with uv beside it and one without, and PATH is stripped of every directory that has a `uv`,
so each `polster setup --force` (delete `.venv`, create it, install the project with its `dev`
extra and polster) takes the way it is meant to. Both compile bytecode: uv with
`--compile-bytecode`, pip by default. One warm-up run of each fills the download and wheel
caches (their times are printed as the first run), then the runs alternate. The figure is the
ratio of the median wall times, uv / pip.
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

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def find_uv() -> str:
    beside = BIN / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("bench_setup needs uv (pip install uv) to build its tool environments")
    return found


def tool_env(uv: str, where: Path, with_uv: bool) -> Path:
    """A virtual environment with this repository's polster (editable), and uv if asked."""
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(where)],
        check=True,
    )
    # click: polster_core/cli.py imports it, and typer 0.29 no longer brings it along.
    packages = ["-e", str(REPO), "click"] + (["uv"] if with_uv else [])
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(where / "bin/python"),
            *packages,
        ],
        check=True,
    )
    return where / "bin" / "polster"


def path_without_uv() -> str:
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not (Path(d) / "uv").exists()
    ]
    return os.pathsep.join(keep)


def timed(argv: list[str], cwd: Path, env: dict, expect: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0 or expect not in result.stdout:
        raise SystemExit(
            f"{' '.join(argv)} failed or did not use {expect!r}:\n{result.stdout}\n{result.stderr}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    uv = find_uv()
    work = Path(tempfile.mkdtemp(prefix="polster-bench-setup-"))
    try:
        tools = {
            "uv": tool_env(uv, work / "tool-uv", with_uv=True),
            "pip": tool_env(uv, work / "tool-pip", with_uv=False),
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLSTER_")}
        env["PATH"] = path_without_uv()
        env.pop("VIRTUAL_ENV", None)
        subprocess.run(
            [str(tools["uv"]), "init", "bench-setup", "--no-setup", "--no-git", "--no-input"],
            cwd=work,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        project = work / "bench-setup"
        expect = {"uv": "with uv", "pip": "with venv + pip"}
        first = {
            way: timed([str(polster), "setup", "--force"], project, env, expect[way])
            for way, polster in tools.items()
        }
        times: dict[str, list[float]] = {way: [] for way in tools}
        for _ in range(args.runs):
            for way, polster in tools.items():
                times[way].append(
                    timed([str(polster), "setup", "--force"], project, env, expect[way])
                )
        check = subprocess.run(
            [str(project / ".venv/bin/python"), "-c", "import dagster, polars, polster_core"],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise SystemExit(f"the environment pip built does not work:\n{check.stderr}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {way: statistics.median(v) for way, v in times.items()}
    ratio = med["uv"] / med["pip"]
    print(f"polster setup --force, {args.runs} runs each after one warm-up (median wall seconds)")
    print(f"{'way':<14}{'first run':>11}{'median':>9}")
    for way in tools:
        print(f"{expect[way][5:]:<14}{first[way]:>11.1f}{med[way]:>9.1f}")
    print(f"uv / venv + pip: {ratio:.2f}x ({1 / ratio:.1f} times faster)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "runs": args.runs,
                    "first_run_s": first,
                    "median_s": med,
                    "all_s": times,
                    "uv_over_pip": ratio,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
