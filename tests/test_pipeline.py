"""End to end: a generated project's scripts, pipeline, own tests and UI, with real Dagster."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from polster_core.testing.projects import clean_env

from .ui_server import UIServer, graphql


@pytest.fixture(scope="module")
def project(make_project) -> Path:
    return make_project("dna-platform")


def python(project: Path, *args: str, env: dict | None = None, timeout: float = 300):
    """Run the test environment's Python in the project (as an activated venv would)."""
    env = env or clean_env(PYTHONPATH=str(project / "src"))
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_example_scripts_run_on_their_own_in_order(project):
    shutil.rmtree(project / "data", ignore_errors=True)
    for layer in ("bronze", "silver", "gold"):
        result = python(project, f"src/core/{layer}_example.py")
        assert result.returncode == 0, result.stderr
        assert f"{layer}/example: wrote" in result.stdout
    bronze = pl.read_parquet(project / "data/bronze/example.parquet")
    silver = pl.read_parquet(project / "data/silver/example.parquet")
    gold = pl.read_parquet(project / "data/gold/example.parquet")
    assert bronze.height == 1_025
    assert silver.height == 980 and silver["event_id"].n_unique() == 980
    assert silver["email"].null_count() == 0
    assert gold["total_events"].sum() == silver.height
    assert gold.columns == ["date", "unique_users", "total_events", "purchases", "revenue"]


def test_silver_script_without_bronze_data_says_what_to_run(project, tmp_path):
    env = clean_env(PYTHONPATH=str(project / "src"), LOCAL_DATA_DIR=str(tmp_path / "empty"))
    result = python(project, "src/core/silver_example.py", env=env)
    assert result.returncode != 0
    assert "no data for bronze/example" in result.stderr
    assert "python src/core/bronze_example.py" in result.stderr


def test_run_polster_materialises_everything_and_prints_a_summary(project):
    shutil.rmtree(project / "data", ignore_errors=True)
    result = python(project, "run_polster.py", env=clean_env())
    assert result.returncode == 0, result.stderr
    for key, rows in (("run_bronze_example", "1,025"), ("run_silver_example", "980")):
        # Said as it starts, then as it ends with its rows and the count of steps done.
        said = [line.split()[0] for line in result.stdout.splitlines() if key in line]
        assert said == ["start", "ok"], result.stdout
        line = next(line for line in result.stdout.splitlines() if f"ok    {key}" in line)
        assert rows in line and line.endswith("/3]")  # the three examples
    assert "Succeeded: 3 materialised, 0 failed, 0 skipped" in result.stdout
    assert pl.read_parquet(project / "data/gold/example.parquet").height > 0
    # Dagster's home is inside the project, with telemetry off; the run is in its history.
    config = (project / ".dagster" / "dagster.yaml").read_text()
    assert "enabled: false" in config
    assert any((project / ".dagster").rglob("*.db"))


def test_workers_run_assets_in_separate_processes(project, tmp_path):
    copy = tmp_path / "parallel"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("data", ".dagster"))
    result = python(copy, "run_polster.py", "--workers", "2", env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Succeeded: 3 materialised, 0 failed, 0 skipped" in result.stdout
    assert pl.read_parquet(copy / "data/gold/example.parquet").height > 0


def test_select_runs_only_the_chosen_assets(project, tmp_path):
    copy = tmp_path / "selected"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("data", ".dagster"))
    refused = python(copy, "run_polster.py", "--select", "run_silver_nothing", env=clean_env())
    assert refused.returncode == 2 and "no asset named run_silver_nothing" in refused.stderr
    assert python(copy, "run_polster.py", env=clean_env()).returncode == 0
    bronze = (copy / "data/bronze/example.parquet").stat().st_mtime_ns
    result = python(copy, "run_polster.py", "--select", "run_gold_example", env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "Succeeded: 1 materialised" in result.stdout
    assert (copy / "data/bronze/example.parquet").stat().st_mtime_ns == bronze


def test_run_polster_fails_clearly_when_an_asset_raises(project, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(project, broken, ignore=shutil.ignore_patterns("data", ".dagster"))
    assert python(broken, "run_polster.py", env=clean_env()).returncode == 0
    earlier = {
        layer: (broken / f"data/{layer}/example.parquet").read_bytes()
        for layer in ("silver", "gold")
    }
    silver = broken / "src/core/silver_example.py"
    silver.write_text(
        silver.read_text().replace(
            "    missing = [", '    raise RuntimeError("bad silver data")\n    missing = [', 1
        )
    )
    result = python(broken, "run_polster.py", env=clean_env())
    assert result.returncode == 1
    assert "FAIL  run_silver_example" in result.stdout
    assert "skip  run_gold_example" in result.stdout
    assert "error in run_silver_example: RuntimeError: bad silver data" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "1 materialised, 1 failed, 1 skipped" in result.stdout
    # The data of the failed asset and of the skipped one is the earlier, complete version.
    for layer, content in earlier.items():
        assert (broken / f"data/{layer}/example.parquet").read_bytes() == content


def test_a_failing_check_is_reported_but_the_data_is_kept(project, tmp_path):
    checked = tmp_path / "checked"
    shutil.copytree(project, checked, ignore=shutil.ignore_patterns("data", ".dagster"))
    core = checked / "src/core/silver_example.py"
    core.write_text(
        core.read_text().replace(
            'KEY_COLUMNS = ["event_id"]', 'KEY_COLUMNS = ["event_id", "amount"]'
        )
    )
    result = python(checked, "run_polster.py", env=clean_env())
    assert result.returncode == 0, result.stderr
    assert "CHECK run_silver_example: key_columns_not_null failed (null_counts: amount=" in (
        result.stdout
    )
    assert "1 check(s) failed" in result.stdout
    assert pl.read_parquet(checked / "data/silver/example.parquet").height == 980


def test_run_polster_without_an_environment_says_how_to_create_one(project):
    # -S hides site-packages: this Python has no polster and the project has no .venv.
    result = subprocess.run(
        [sys.executable, "-S", "run_polster.py"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "run `polster setup`" in result.stderr
    assert "Traceback" not in result.stderr


def test_generated_project_tests_pass(project):
    result = python(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_materialize_then_ui_serves_the_pipeline_and_ctrl_c_stops_it(project):
    server = UIServer(project)
    try:
        server.wait_ready()
        query = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"
        nodes = graphql(server.port, query)["assetNodes"]
        graph = {
            n["assetKey"]["path"][-1]: (
                n["groupName"],
                [d["path"][-1] for d in n["dependencyKeys"]],
            )
            for n in nodes
        }
        assert graph == {
            "run_bronze_example": ("bronze", []),
            "run_silver_example": ("silver", ["run_bronze_example"]),
            "run_gold_example": ("gold", ["run_silver_example"]),
        }
    finally:
        server.stop()
    output = server.output()
    assert "Succeeded: 3 materialised" in output
    assert f"Dagster UI: http://127.0.0.1:{server.port}" in output
    assert "superseded" not in output and "dg dev" not in output  # no warning to act on
    # Ctrl+C stopped everything it started: no process still serves this project.
    time.sleep(1)
    left = subprocess.run(["pgrep", "-f", str(project / "workspace.yaml")], capture_output=True)
    assert left.stdout == b"", left.stdout


def test_busy_port_is_a_clear_message(project):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = python(project, "run_polster.py", "--ui", "--port", str(port), env=clean_env())
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is busy" in result.stderr
    assert "Traceback" not in result.stderr
