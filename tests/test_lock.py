"""The project lock: concurrent commands in one project queue up instead of losing changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from polster_core.project.lock import LOCK_FILE, project_lock
from polster_core.testing.projects import (
    POLSTER,
    assert_one_line_error,
    clean_env,
    run_polster,
    tree_hash,
)

from .assets_helpers import new_project

# Four bronze assets, two silver on the example bronze asset, two gold on the example silver.
EIGHT = [
    *(("bronze", f"raw_{i}", None) for i in range(4)),
    *(("silver", f"clean_{i}", "run_bronze_example") for i in range(2)),
    *(("gold", f"report_{i}", "run_silver_example") for i in range(2)),
]


def start_add_asset(project, layer, name, deps, env):
    args = [POLSTER, "add-asset", "--layer", layer, "--name", name, "--no-input"]
    if deps:
        args += ["--deps", deps]
    return subprocess.Popen(
        args, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("trial", range(3))
def test_eight_concurrent_add_assets_all_land_registered(tmp_path, trial):
    project = new_project(tmp_path)
    # A busy machine may queue eight commands for more than the default 10 s.
    env = clean_env(POLSTER_LOCK_TIMEOUT="120")
    processes = [start_add_asset(project, *spec, env) for spec in EIGHT]
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, out + err
        assert "Traceback" not in err
    listed = json.loads(run_polster("list", "--json", cwd=project).stdout)["assets"]
    keys = {a["key"] for a in listed}
    expected = {f"run_{layer}_{name}" for layer, name, _ in EIGHT}
    assert len(listed) == 3 + len(EIGHT)
    assert expected <= keys
    for layer in ("bronze", "silver", "gold"):
        init = (project / f"src/orchestration/assets/{layer}/__init__.py").read_text()
        for lay, name, _ in EIGHT:
            if lay == layer:
                assert f"from .run_{layer}_{name} import run_{layer}_{name}" in init
    checked = run_polster("check", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: 11 assets" in checked.stdout
    assert not (project / LOCK_FILE).exists()


def test_a_held_lock_makes_a_command_wait_then_name_the_holder(tmp_path):
    project = new_project(tmp_path)
    before = tree_hash(project)
    env = clean_env(POLSTER_LOCK_TIMEOUT="1.5")
    with project_lock(project, "polster add-asset"):
        started = time.monotonic()
        result = run_polster(
            "add-asset", "--layer", "bronze", "--name", "late", "--no-input", cwd=project, env=env
        )
        waited = time.monotonic() - started
        assert_one_line_error(
            result, "`polster add-asset`", f"pid {os.getpid()}", "is changing this project",
            "waited 1.5s", "POLSTER_LOCK_TIMEOUT",
        )  # fmt: skip
        assert waited >= 1.5
        # Reading commands do not wait, and do not mistake the lock file for anything.
        checked = run_polster("check", cwd=project)
        assert checked.returncode == 0 and "OK: 3 assets" in checked.stdout
        removed = run_polster(
            "remove-asset", "--layer", "gold", "--name", "example", cwd=project, env=env
        )
        assert_one_line_error(removed, "is changing this project")
    assert tree_hash(project) == before  # the lock file went with its holder
    # Once released, the same command goes through at once.
    result = run_polster("add-asset", "--layer", "bronze", "--name", "late", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert "OK: 4 assets" in run_polster("check", cwd=project).stdout


def test_enable_waits_for_the_lock_too(tmp_path):
    project = new_project(tmp_path)
    before = tree_hash(project)
    env = clean_env(POLSTER_LOCK_TIMEOUT="0.5", POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    with project_lock(project, "polster remove-asset"):
        result = run_polster("enable", "github", cwd=project, env=env)
        assert_one_line_error(result, "`polster remove-asset`", "is changing this project")
    assert tree_hash(project) == before


def test_a_killed_holder_releases_the_lock(tmp_path):
    project = new_project(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys, time; from pathlib import Path; from polster_core.project.lock import "
            "project_lock\nwith project_lock(Path(sys.argv[1]), 'polster add-asset'):\n"
            "    print('held', flush=True); time.sleep(600)",
            str(project),
        ],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert (project / LOCK_FILE).exists()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
        holder.wait()
    assert (project / LOCK_FILE).exists()  # kill -9 leaves the file, but not the lock
    env = clean_env(POLSTER_LOCK_TIMEOUT="0")
    result = run_polster("add-asset", "--layer", "bronze", "--name", "after", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert not (project / LOCK_FILE).exists()
    assert "OK: 4 assets" in run_polster("check", cwd=project).stdout


def test_a_bad_lock_timeout_is_one_line(tmp_path):
    project = new_project(tmp_path)
    before = tree_hash(project)
    result = run_polster(
        "add-asset", "--layer", "bronze", "--name", "x", cwd=project,
        env=clean_env(POLSTER_LOCK_TIMEOUT="soon"),
    )  # fmt: skip
    assert_one_line_error(result, "POLSTER_LOCK_TIMEOUT=soon is not a number of seconds")
    assert tree_hash(project) == before


def test_generated_projects_ignore_the_lock_file(tmp_path):
    result = run_polster("init", "ignored", "--git", "--no-setup", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "ignored"
    (project / LOCK_FILE).write_text("left by a killed command\n")
    (project / ".polster-setup.lock").write_text("")
    (project / ".venv.polster-new-0000").mkdir()
    (project / ".venv.polster-new-0000" / "pyvenv.cfg").write_text("")
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
