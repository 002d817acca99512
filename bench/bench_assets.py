"""Speed of the asset commands in projects with 30, 300 and 3,000 assets.

    .venv/bin/python bench/bench_assets.py [--sizes 30,300,3000] [--runs 5] [--json FILE]

Builds each project with `polster init`, then writes its assets the way add-asset would (the
same templates and registry code, in one process, because 3,000 CLI runs would take minutes):
a third bronze, a third silver (each on one or two bronze assets), a third gold. Then it times
the real CLI, each a fresh process, alternating with the baseline `polster --help` in the same
run: `add-asset` (a silver asset with two upstreams, undone by `remove-asset` after each run,
which is timed too), `list`, `list --json`, `list --graph` and `check`. Prints the median wall
time of each and its ratio to the baseline. Goal (issue 3): add-asset and list under 1 s at
3,000 assets.
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

BIN = Path(sys.executable).parent
POLSTER = str(BIN / "polster")


def build(parent: Path, size: int) -> Path:
    from polster_core.plugins import Plugins
    from polster_core.project.graph import core_path, registry_path, wrapper_path
    from polster_core.project.registry import new_registry
    from polster_core.specs import AssetContext

    subprocess.run(
        [POLSTER, "init", "bench", "--no-git", "--no-setup", "--no-input"],
        cwd=parent,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    root = parent / "bench"
    template = Plugins(autoload=False).asset_templates()["default"]
    per_layer = max(1, size // 3)
    keys: dict[str, list[str]] = {"bronze": ["run_bronze_example"], "silver": [], "gold": []}
    keys["silver"].append("run_silver_example")
    keys["gold"].append("run_gold_example")
    plan = []
    for layer, upstream_layer in (("bronze", None), ("silver", "bronze"), ("gold", "silver")):
        for i in range(per_layer - 1):
            name = f"asset_{i:04d}"
            if upstream_layer:
                pool = keys[upstream_layer]
                upstream = tuple(dict.fromkeys([pool[i % len(pool)], pool[(i * 7) % len(pool)]]))
            else:
                upstream = ()
            context = AssetContext("bench", layer, name, upstream)
            plan.append((layer, name, context))
            keys[layer].append(context.asset_key)
    for layer, name, context in plan:
        (root / core_path(layer, name)).write_text(template.render_core(context))
        (root / wrapper_path(layer, name)).write_text(template.render_wrapper(context))
    for layer in ("bronze", "silver", "gold"):
        (root / registry_path(layer)).write_text(new_registry(layer, "bench", keys[layer]))
    return root


def timed(argv: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def bench(root: Path, runs: int, env: dict) -> dict[str, float]:
    commands = {
        "polster --help (baseline)": [POLSTER, "--help"],
        "add-asset (silver, 2 deps)": [
            POLSTER,
            "add-asset",
            "--layer",
            "silver",
            "--name",
            "bench_new",
            "--deps",
            "run_bronze_asset_0000,run_bronze_example",
        ],
        "remove-asset": [POLSTER, "remove-asset", "--layer", "silver", "--name", "bench_new"],
        "list": [POLSTER, "list"],
        "list --json": [POLSTER, "list", "--json"],
        "list --graph": [POLSTER, "list", "--graph"],
        "check": [POLSTER, "check"],
    }
    for argv in commands.values():  # warm the page cache (add and remove leave no trace)
        timed(argv, root, env)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, argv in commands.items():
            times[label].append(timed(argv, root, env))
    return {label: statistics.median(values) for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="30,300,3000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    figures = []
    env = dict(os.environ)
    work = Path(tempfile.mkdtemp(prefix="polster-bench-assets-"))
    print(
        f"runs: {args.runs} (median wall seconds), python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            folder = work / str(size)
            folder.mkdir()
            started = time.perf_counter()
            root = build(folder, size)
            count = subprocess.run(
                [POLSTER, "list", "--json"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.count('"key"')
            print(f"\n{count} assets (built in {time.perf_counter() - started:.1f} s)")
            medians = bench(root, args.runs, env)
            base = medians["polster --help (baseline)"]
            print(f"  {'command':<30}{'wall s':>9}{'x --help':>10}")
            for label, value in medians.items():
                print(f"  {label:<30}{value:>9.3f}{value / base:>10.2f}")
            slow = [k for k in ("add-asset (silver, 2 deps)", "list") if medians[k] >= 1.0]
            print(
                "  goal (add-asset and list < 1 s): "
                + ("MISSED: " + ", ".join(slow) if slow else "met")
            )
            figures.append({"assets": count, "median_wall_s": medians})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "sizes": figures}, indent=2))


if __name__ == "__main__":
    main()
