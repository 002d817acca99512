"""Dagster's private names are used only behind the boundary modules (polster_core/
dagster_private, polster_celery.dagster_private), and each fallback to Dagster's stock
behaviour (forced with POLSTER_DAGSTER_FALLBACK, as on a Dagster whose internals moved) gives
the same tables and the same history, said once under --verbose."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from polster_core.testing.projects import clean_env, run_polster

ROOT = Path(__file__).resolve().parent.parent
BOUNDARIES = {
    ROOT / "polster_core/run/dagster_private",
    ROOT / "plugins/polster_celery/polster_celery/dagster_private.py",
}
# dagster-celery's modules whose names are internals (its public API: celery_executor, the CLI).
CELERY_INTERNALS = (
    "dagster_celery.core_execution_loop",
    "dagster_celery.tasks",
    "dagster_celery.config",
    "dagster_celery.make_app",
)
LAYERS = ("bronze", "silver", "gold")
NOTE_HISTORY = "note: using Dagster's stock SQLite history"
NOTE_POOL = "note: using Dagster's multiprocess executor"


def _private_uses(path: Path) -> list[str]:
    """Where ``path`` imports a private Dagster name or replaces a Dagster attribute."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Assign):
            names = [ast.unparse(t) for t in node.targets if isinstance(t, ast.Attribute)]
            names = [n for n in names if n.endswith(("TICK_SECONDS", "ResolvedRunConfig.build"))]
        for name in names:
            private = name.startswith("dagster._") or name.startswith(CELERY_INTERNALS)
            if private or name.endswith(("TICK_SECONDS", "ResolvedRunConfig.build")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


def test_private_dagster_names_are_used_only_behind_the_boundary():
    sources = list((ROOT / "polster_core").rglob("*.py"))
    for plugin in (ROOT / "plugins").glob("polster_*/polster_*"):
        sources += plugin.rglob("*.py")
    outside = [
        use
        for path in sources
        if not any(path == b or b in path.parents for b in BOUNDARIES)
        for use in _private_uses(path)
    ]
    assert outside == []
    # The check reads what it should: the boundary itself is full of them.
    assert _private_uses(ROOT / "polster_core/run/dagster_private/history_names.py")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("fallbacks")
    result = run_polster("init", "fallback-demo", "--no-git", "--no-setup", cwd=parent)
    assert result.returncode == 0, result.stderr
    return parent / "fallback-demo"


def fresh(made: Path, dest: Path) -> Path:
    shutil.copytree(made, dest, ignore=shutil.ignore_patterns("data", ".dagster"))
    return dest


def run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env=clean_env(PYTHONPATH=str(project / "src"), **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Succeeded: 3 materialised, 0 failed" in result.stdout
    return result


def tables(project: Path) -> dict[str, pl.DataFrame]:
    return {layer: pl.read_parquet(project / f"data/{layer}/example.parquet") for layer in LAYERS}


def history(project: Path) -> dict:
    """What the project's Dagster history holds, read with Dagster's public API: each run's
    status, and each asset's materialisations (how many, from which runs)."""
    with dg.DagsterInstance.from_config(str(project / ".dagster")) as instance:
        runs = {
            r.dagster_run.run_id: r.dagster_run.status.value for r in instance.get_run_records()
        }
        materialised = {}
        for key in instance.get_asset_keys():
            records = instance.fetch_materializations(key, limit=100).records
            materialised[key.to_user_string()] = sorted(r.run_id[:8] for r in records)
    order = {run_id[:8]: n for n, run_id in enumerate(sorted(runs))}
    return {
        "runs": sorted(runs.values()),
        "materialised": {k: sorted(order[r] for r in v) for k, v in materialised.items()},
    }


def test_all_fallbacks_forced_give_the_same_tables_and_history(made, tmp_path):
    """In process and with --workers 2, twice each: Polster's faster path and Dagster's stock
    behaviour write the same tables and record the same history; --verbose says each fallback
    once, and nothing without one."""
    results = {}
    for name, env in (("polster", {}), ("stock", {"POLSTER_DAGSTER_FALLBACK": "all"})):
        project = fresh(made, tmp_path / name)
        run(project, **env)
        first = tables(project)
        out = run(project, "--workers", "2", "--verbose", **env)
        results[name] = (project, first, out.stdout + out.stderr)
        for layer, frame in tables(project).items():
            assert frame.equals(first[layer]), f"{name}: {layer}"
    (polster, polster_tables, polster_out), (stock, stock_tables, stock_out) = results.values()
    for layer in LAYERS:
        assert stock_tables[layer].equals(polster_tables[layer]), layer
    assert history(stock) == history(polster)
    assert history(stock)["runs"] == ["SUCCESS", "SUCCESS"]
    # Each asset materialised once by each run.
    assert sorted(history(stock)["materialised"].values()) == [[0, 1]] * 3
    assert stock_out.count(NOTE_HISTORY) == 1 and stock_out.count(NOTE_POOL) == 1
    assert "POLSTER_DAGSTER_FALLBACK=all" in stock_out
    # Without the switch, a note only where this Dagster's internals differ (dagster 1.13.0's
    # SQLite event log: the range tests run this file there too).
    from polster_core.run.dagster_private import history as private_history
    from polster_core.run.dagster_private import step_pool

    assert (NOTE_HISTORY in polster_out) == (private_history._probe() is not None)
    assert (NOTE_POOL in polster_out) == (step_pool._probe() is not None)
    assert polster_out.count("note: using") <= 2


def test_a_forced_fallback_is_said_only_under_verbose(made, tmp_path):
    project = fresh(made, tmp_path / "quiet")
    quiet = run(project, POLSTER_DAGSTER_FALLBACK="history")
    assert "note:" not in quiet.stdout + quiet.stderr
    loud = run(project, "--verbose", POLSTER_DAGSTER_FALLBACK="history")
    assert (loud.stdout + loud.stderr).count(NOTE_HISTORY) == 1
    assert NOTE_POOL not in loud.stdout + loud.stderr  # only the concern named


def test_pool_fallback_runs_each_step_in_a_process_of_its_own(made, tmp_path):
    """The pool's fallback is Dagster's own multiprocess executor: visibly so (a new process
    for each step; the pool runs all three in its one worker)."""
    pids = {}
    for name, env in (("pool", {}), ("stock", {"POLSTER_DAGSTER_FALLBACK": "pool"})):
        project = fresh(made, tmp_path / name)
        for layer in LAYERS:
            core = project / f"src/core/{layer}_example.py"
            text = core.read_text(encoding="utf-8")
            core.write_text(
                text
                + "\n\nimport os as _os\n\nwith open("
                + repr(str(project / "pids.txt"))
                + ", 'a') as _out:\n    _out.write(f'{_os.getpid()}\\n')\n",
                encoding="utf-8",
            )
        (project / "pids.txt").write_text("")
        run(project, "--workers", "1", **env)
        pids[name] = set((project / "pids.txt").read_text().split())
    # Module-level code runs once per process that imports the project's core modules.
    assert len(pids["stock"]) > len(pids["pool"])


def test_dev_fallback_is_dagsters_own_entry_point():
    for env in ({}, {"POLSTER_DAGSTER_FALLBACK": "dev"}):
        result = subprocess.run(
            [sys.executable, "-m", "polster_core.run.dagster_dev", "--help"],
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "Start a local deployment of Dagster" in result.stdout


def test_a_backfill_with_every_fallback_forced_writes_and_records_the_same_partitions(tmp_path):
    from polster_core.testing.projects import run_python

    from .assets_helpers import add, new_project

    made = new_project(tmp_path / "made")
    add(made, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    add(made, "silver", "clean_events", "--deps", "events")
    found = {}
    for name, env in (("polster", {}), ("stock", {"POLSTER_DAGSTER_FALLBACK": "all"})):
        project = fresh(made, tmp_path / name)
        for args in (("--from", "2026-11-01", "--to", "2026-11-03"), ("--partition", "2026-11-02")):
            result = run_python(
                project,
                "run_polster.py",
                *args,
                env=clean_env(PYTHONPATH=str(project / "src"), **env),
            )
            assert result.returncode == 0, result.stdout + result.stderr
        data = project / "data"
        files = {
            p.relative_to(data).as_posix(): pl.read_parquet(p) for p in data.rglob("*.parquet")
        }
        with dg.DagsterInstance.from_config(str(project / ".dagster")) as instance:
            recorded = {
                key.to_user_string(): sorted(instance.get_materialized_partitions(key))
                for key in instance.get_asset_keys()
            }
        found[name] = (files, recorded)
    (files, recorded), (stock_files, stock_recorded) = found.values()
    assert sorted(stock_files) == sorted(files)
    assert "silver/clean_events/date=2026-11-03/data.parquet" in files
    for path, frame in files.items():
        assert stock_files[path].equals(frame), path
    assert stock_recorded == recorded
    assert recorded["run_silver_clean_events"] == ["2026-11-01", "2026-11-02", "2026-11-03"]


def test_the_upgrade_guide_names_every_boundary_and_every_switch_value():
    from polster_core.run.dagster_private import CONCERNS, FALLBACK_ENV

    guide = (ROOT / "docs/dagster-upgrades.md").read_text(encoding="utf-8")
    modules = sorted((ROOT / "polster_core/run/dagster_private").glob("[!_]*.py"))
    modules.append(ROOT / "plugins/polster_celery/polster_celery/dagster_private.py")
    for module in modules:
        assert module.relative_to(ROOT).as_posix() in guide, module
    assert FALLBACK_ENV in guide
    for concern in CONCERNS:
        assert f"`{concern}`" in guide, concern
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/dagster-upgrades.md" in readme
