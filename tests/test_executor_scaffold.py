"""What an executor plugin's author meets (issue 28): `polster enable` says what fits the
executor (no workers to start when it has none), and runs through it are as quiet as through
Polster's own executors: no Dagster DEBUG lines, no warnings from the step processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polster_core.testing.projects import BIN, clean_env, run_polster


@pytest.fixture(scope="module")
def pool_project(tmp_path_factory) -> tuple[Path, dict]:
    """A project with `polster plugin new executor mypool`'s plugin installed and enabled."""
    parent = tmp_path_factory.mktemp("scaffolded-executor")
    made = run_polster("plugin", "new", "executor", "mypool", cwd=parent)
    assert made.returncode == 0, made.stderr
    site = parent / "site"
    subprocess.run(
        [str(BIN / "uv"), "pip", "install", "-q", "--no-deps", "--target", str(site),
         str(parent / "polster-mypool")],
        check=True,
    )  # fmt: skip
    env = clean_env(PYTHONPATH=str(site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    init = run_polster("init", "demo", "--no-git", "--no-setup", cwd=parent, env=env)
    assert init.returncode == 0, init.stderr
    project = parent / "demo"
    enabled = run_polster("enable", "mypool", cwd=project, env=env)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return project, env, enabled.stdout


def test_enable_says_what_fits_an_executor_without_workers(pool_project):
    project, env, said = pool_project
    said = " ".join(said.split())
    assert "start workers" not in said and "--worker" not in said
    assert (
        "demo can now run its steps with the mypool executor: fill in .env, run `polster "
        "setup`, then run `python run_polster.py --executor mypool`"
    ) in said
    # And what it would have told to do fails, so it must not be told:
    worker = subprocess.run(
        [sys.executable, "run_polster.py", "--worker", "--executor", "mypool"],
        cwd=project,
        env={**env, "PYTHONPATH": f"{env['PYTHONPATH']}:{project / 'src'}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode != 0 and "has no workers to start" in worker.stderr


def test_a_scaffolded_executors_run_is_quiet_and_verbose_shows_dagster(pool_project):
    project, env, _ = pool_project
    env = {**env, "PYTHONPATH": f"{env['PYTHONPATH']}:{project / 'src'}"}
    run = subprocess.run(
        [sys.executable, "run_polster.py", "--executor", "mypool"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Succeeded: 3 materialised, 0 failed" in run.stdout
    assert run.stderr == "", run.stderr  # was a DEBUG STEP_WORKER_STARTED line per step
    assert "DEBUG" not in run.stdout


def test_step_processes_lose_dagster_chatter_and_warnings_and_keep_the_rest(capfd):
    """The filter on its own, with real child processes: lines in order, Dagster's DEBUG and
    INFO console lines and warnings gone, its warnings and errors and everything else kept."""
    from polster_core.run.quiet_children import quiet_step_processes

    child = (
        "import sys, warnings\n"
        "print('before', file=sys.stderr)\n"
        "print('2026-12-07 21:39:45 +0000 - dagster - DEBUG - polster_pipeline - 1 - "
        "STEP_WORKER_STARTED - Executing step in subprocess.', file=sys.stderr)\n"
        "print('2026-12-07 21:39:45 +0000 - dagster - INFO - x - started', file=sys.stderr)\n"
        "print('2026-12-07 21:39:45 +0000 - dagster - ERROR - x - broke', file=sys.stderr)\n"
        "warnings.warn('a beta feature', FutureWarning)\n"
        "sys.stderr.write('no newline at the end')\n"
    )
    with quiet_step_processes():
        subprocess.run([sys.executable, "-c", child], check=True)
        os.write(2, b"the parent's own line\n")  # its stderr goes through the filter too
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "before",
        "2026-12-07 21:39:45 +0000 - dagster - ERROR - x - broke",
        "no newline at the endthe parent's own line",
    ]
