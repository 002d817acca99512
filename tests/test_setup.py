"""`polster setup`: a real .venv built with uv, then the pipeline run with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from polster_core.testing.projects import (
    POLSTER,
    assert_one_line_error,
    clean_env,
    run_polster,
    tree_hash,
)
from polster_core.testing.servers import free_port


def test_setup_outside_a_project_is_refused(tmp_path):
    before = tree_hash(tmp_path)
    result = run_polster("setup", cwd=tmp_path)
    assert_one_line_error(result, "not inside a Polster project", "polster init")
    assert tree_hash(tmp_path) == before


@pytest.mark.slow
def test_init_sets_up_a_venv_that_runs_the_pipeline(tmp_path):
    # init builds .venv, then --start-dagster opens the UI with it: wait for it, then Ctrl+C.
    port = free_port()
    log = tmp_path / "init.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [POLSTER, "init", "with-venv", "--no-git", "--start-dagster", "--no-input"],
            cwd=tmp_path,
            env=clean_env(DAGSTER_WEBSERVER_PORT=None, POLSTER_UI_PORT=str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                    break
                except OSError:
                    assert process.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(1)
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    output = log.read_text()
    assert "with uv" in output and "Environment ready" in output
    assert f"Dagster UI: http://127.0.0.1:{port}" in output
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
    assert "Replaced" in again.stdout and not marker.exists()
    assert python.exists()
