"""`polster setup`: a real .venv built with uv, then the pipeline run with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import assert_one_line_error, clean_env, run_polster, tree_hash


def test_setup_outside_a_project_is_refused(tmp_path):
    before = tree_hash(tmp_path)
    result = run_polster("setup", cwd=tmp_path)
    assert_one_line_error(result, "not inside a Polster project", "polster init")
    assert tree_hash(tmp_path) == before


@pytest.mark.slow
def test_init_sets_up_a_venv_that_runs_the_pipeline(tmp_path):
    result = run_polster("init", "with-venv", "--no-git", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "with uv" in result.stdout and "Environment ready" in result.stdout
    project = tmp_path / "with-venv"
    python = project / ".venv" / "bin" / "python"
    assert python.exists()
    # The venv has this very polster (editable from this checkout), not one from an index.
    probe = subprocess.run(
        [str(python), "-c", "import polster_core, json; print(json.dumps(polster_core.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    )
    import polster_core

    assert Path(json.loads(probe.stdout)).resolve() == Path(polster_core.__file__).resolve()

    # Inside the venv, the example script finds `core` (the project is installed editable).
    script = subprocess.run(
        [str(python), "src/core/bronze_example.py"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert script.returncode == 0, script.stderr

    # run_polster.py started with another Python switches to the project's .venv by itself.
    run = subprocess.run(
        [sys.executable, "run_polster.py"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Succeeded: 3 materialised" in run.stdout

    # The project's own tests and linters pass with the venv's tools.
    for tool in (["-m", "pytest", "-q", "-p", "no:cacheprovider"], ["-m", "ruff", "check", "."]):
        checked = subprocess.run(
            [str(python), *tool],
            cwd=project,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

    # setup --force recreates the environment from scratch.
    marker = project / ".venv" / "marker"
    marker.write_text("old")
    again = run_polster("setup", "--force", cwd=project, timeout=900)
    assert again.returncode == 0, again.stderr
    assert "Removing" in again.stdout and not marker.exists()
    assert python.exists()
