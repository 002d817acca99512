"""Executors: ``--executor``/``POLSTER_EXECUTOR``, the long-lived worker pool of ``--workers N``,
quiet output whatever the executor, and a worker killed mid-step."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from polster_core.testing.projects import clean_env

HOOK = """
import os as _os
import time as _time


def _polster_test_hook(name):
    with open({pids!r}, "a") as out:
        out.write(f"{{name}} {{_os.getpid()}}\\n")
    if _os.environ.get("TEST_SLOW_STEP") == name:
        _time.sleep(120)
"""

CORES = {"bronze": "extract", "silver": "transform", "gold": "aggregate"}


@pytest.fixture(scope="module")
def made(make_project) -> Path:
    return make_project("exec-demo")


@pytest.fixture
def project(made, tmp_path) -> Path:
    """A copy of the project whose three steps each record their process id in pids.txt."""
    copy = tmp_path / "exec-demo"
    shutil.copytree(made, copy, ignore=shutil.ignore_patterns("data", ".dagster"))
    for layer, function in CORES.items():
        core = copy / f"src/core/{layer}_example.py"
        text = core.read_text(encoding="utf-8")
        head, sep, body = text.partition(f"\ndef {function}(")
        signature, colon, rest = body.partition(":\n")
        lines = rest.split("\n")
        # After the docstring (its first line), the hook call.
        lines.insert(1, f"    _polster_test_hook({layer!r})")
        hook = HOOK.format(pids=str(copy / "pids.txt"))
        core.write_text(head + hook + sep + signature + colon + "\n".join(lines), encoding="utf-8")
    return copy


def start(project: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env=clean_env(PYTHONPATH=str(project / "src"), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    process = start(project, *args, **env)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def pids(project: Path) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    text = (project / "pids.txt").read_text()
    for line in text[: text.rfind("\n") + 1].splitlines():  # whole lines only
        name, pid = line.split()
        found.setdefault(name, set()).add(int(pid))
    return found


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def tables(project: Path) -> dict[str, pl.DataFrame]:
    return {
        layer: pl.read_parquet(project / f"data/{layer}/example.parquet")
        for layer in ("bronze", "silver", "gold")
    }


def test_workers_run_steps_in_long_lived_processes_and_write_the_same_tables(project):
    inline = run(project)
    assert inline.returncode == 0, inline.stderr
    expected = tables(project)
    assert pids(project) and all(len(p) == 1 for p in pids(project).values())
    (project / "pids.txt").unlink()
    shutil.rmtree(project / "data")

    process = start(project, "--workers", "1")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    assert "Succeeded: 3 materialised, 0 failed, 0 skipped" in out
    used = set().union(*pids(project).values())
    # One worker ran all three steps, one after the other; not run_polster.py itself; and it
    # was gone when the run ended.
    assert len(used) == 1 and process.pid not in used
    assert not [pid for pid in used if Path(f"/proc/{pid}").exists()]
    for layer, frame in tables(project).items():
        assert frame.equals(expected[layer]), layer
    # Quiet: Polster's lines only, no raw Dagster log.
    assert err == "", err
    assert "DEBUG" not in out


def test_verbose_shows_dagsters_log_with_workers(project):
    result = run(project, "--workers", "2", "--verbose")
    assert result.returncode == 0, result.stderr
    assert "STEP_SUCCESS" in result.stdout + result.stderr


def test_the_executor_comes_from_the_flag_or_the_environment(project):
    by_env = run(project, POLSTER_EXECUTOR="multiprocess")
    assert by_env.returncode == 0, by_env.stderr
    assert os.getpid() not in set().union(*pids(project).values())
    (project / "pids.txt").unlink()
    flag = run(project, "--executor", "in-process", POLSTER_EXECUTOR="multiprocess")
    assert flag.returncode == 0, flag.stderr
    # In process: the three steps ran in one process, run_polster.py's.
    assert len(set().union(*pids(project).values())) == 1


def test_an_unknown_executor_is_one_line_and_runs_nothing(project):
    result = run(project, "--executor", "nothing")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: unknown executor 'nothing': choose one of dagster-multiprocess, in-process, "
        "multiprocess"
    ]
    assert not (project / "pids.txt").exists()
    missing = run(project, POLSTER_EXECUTOR="celery")
    assert missing.returncode == 1
    # The installer that reaches this environment (uv's, with no pip), for this very Python.
    hint = f"run `uv pip install polster-celery --python {sys.executable}`"
    assert f"executor 'celery' is not installed: {hint}" in (missing.stderr)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL, /proc")
def test_a_worker_killed_mid_step_fails_that_asset_and_a_rerun_completes(project):
    assert run(project).returncode == 0
    before = tables(project)
    (project / "pids.txt").unlink()
    process = start(project, "--workers", "2", TEST_SLOW_STEP="silver")
    deadline = time.monotonic() + 120
    victim = None
    while time.monotonic() < deadline and victim is None:
        if (project / "pids.txt").exists():
            victim = next(iter(pids(project).get("silver", [])), None)
        time.sleep(0.1)
    # A worker of this run, nothing else.
    assert victim is not None and parent_of(victim) == process.pid
    assert victim is not None, process.communicate(timeout=5)
    os.kill(victim, signal.SIGKILL)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, out + err
    assert re.search(
        r"FAIL  run_silver_example +the worker process running run_silver_example stopped "
        r"\(killed by signal 9\) before the step finished",
        out,
    ), out
    assert "skip  run_gold_example" in out
    assert "error in run_silver_example: the worker process" in err
    # The previous version of the table is still there, whole.
    assert tables(project)["silver"].equals(before["silver"])
    again = run(project, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert "Succeeded: 3 materialised" in again.stdout


def test_a_worker_resolves_a_runs_config_once_and_again_for_another(monkeypatch):
    """Worker processes keep Dagster's resolved run config for the job and config they last
    ran (it is validated again for every step otherwise); another config is resolved, and
    checked, anew. Only while a worker plans or runs a step: Dagster's own ``build`` before
    and after (no process-wide replacement)."""
    from polster_core.run.dagster_private.step_pool import ResolvedRunConfig, resolved_once

    @dg.op(config_schema={"rows": int})
    def count(context) -> int:
        return context.op_config["rows"]

    job = dg.GraphDefinition(name="g", node_defs=[count]).to_job()
    stock = ResolvedRunConfig.__dict__["build"]
    first = {"ops": {"count": {"config": {"rows": 1}}}}
    with resolved_once(), resolved_once():  # nested: one replacement, undone by the outer
        resolved = ResolvedRunConfig.build(job, first)
        assert ResolvedRunConfig.build(job, {"ops": {"count": {"config": {"rows": 1}}}}) is (
            resolved
        )
        other = ResolvedRunConfig.build(job, {"ops": {"count": {"config": {"rows": 2}}}})
        assert other is not resolved and other.ops["count"].config == {"rows": 2}
        with pytest.raises(dg.DagsterInvalidConfigError):
            ResolvedRunConfig.build(job, {"ops": {"count": {"config": {"rows": "many"}}}})
    assert ResolvedRunConfig.__dict__["build"] is stock
    assert ResolvedRunConfig.build(job, first) is not ResolvedRunConfig.build(job, first)


@dg.asset
def planned_up() -> int:
    return 1


@dg.asset
def planned_down(planned_up: int) -> int:
    return planned_up + 1


def planned_job():
    """A two-asset job for the test below (reconstructable: defined at module level)."""
    defs = dg.Definitions(assets=[planned_up, planned_down], jobs=[dg.define_asset_job("two")])
    return defs.resolve_job_def("two")


def test_a_worker_plans_its_run_ahead_and_uses_that_plan_only_for_that_run(monkeypatch):
    """Pool workers plan the coming run while the orchestrator creates it; the first step takes
    that plan when the run is the one planned (job, selection and config as Dagster passes them
    to the worker, through a pipe), and plans anew for any other."""
    import pickle

    from polster_core import pool

    monkeypatch.setattr(pool, "_PREPARED", [])
    monkeypatch.setattr(pool, "_PLANS", {})
    recon = dg.reconstructable(planned_job)
    down = frozenset({dg.AssetKey("planned_down")})
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

    def sent(config):
        """The job and run a worker receives for a run of planned_down with ``config``."""
        with dg.DagsterInstance.ephemeral() as instance:
            run = instance.create_run_for_job(
                job_def=recon.get_subset(asset_selection=down).get_definition(),
                run_config=config,
                asset_selection=down,
                job_code_origin=recon.get_python_origin(),
            )
        job = recon.get_subset(
            asset_selection=run.asset_selection, asset_check_selection=run.asset_check_selection
        )
        return pickle.loads(pickle.dumps((job, run)))

    pool.prepare(recon.get_subset(asset_selection=down), quiet)
    ahead = pool._PREPARED[0][2][2]
    job, run = sent(quiet)
    plan = pool._step_plan(job, run, "planned_down", None, None)
    assert pool._PLANS[run.run_id][2] is ahead
    assert plan.step_keys_to_execute == ["planned_down"]

    pool.prepare(recon.get_subset(asset_selection=down), quiet)
    louder = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
    job, run = sent(louder)
    plan = pool._step_plan(job, run, "planned_down", None, None)
    assert pool._PLANS[run.run_id][2] is not ahead
    assert plan.step_keys_to_execute == ["planned_down"]
    assert not pool._PREPARED  # taken by the first step, whichever run it was
