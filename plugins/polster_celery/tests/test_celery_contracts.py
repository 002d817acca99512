"""Data contracts (issue 30) with the celery executor: the silver step validates its output
and quarantines the failing rows in a `run_polster.py --worker` process (a copy of the
project, as on another machine), and its rule checks read the counts from the shared history."""

from __future__ import annotations

import json

import polars as pl
from celery_fixtures import copy_project, run_pipeline, start_worker, stop_worker

from polster_core.testing.projects import init_project, plugin_env, run_python, set_env

# The silver example's amounts run up to 72: `max=40` breaks 118 of its 980 rows.
CONTRACT = """

import dataframely as dy  # noqa: E402

CONTRACT_POLICY = "quarantine"


class Contract(dy.Schema):
    event_id = dy.Int64(primary_key=True)
    user_id = dy.Int64()
    email = dy.String()
    event_type = dy.String()
    amount = dy.Float64(nullable=True, min=0, max=40)
    timestamp = dy.Datetime()
    date = dy.Date()
"""


def test_a_celery_worker_quarantines_the_rows_that_break_the_contract(redis_url, tmp_path):
    project = init_project(tmp_path, "local", name="celery-contracts")
    shared = tmp_path / "shared-data"
    set_env(
        project, CELERY_BROKER_URL=redis_url, POLSTER_SHARED_DISK="true", LOCAL_DATA_DIR=str(shared)
    )
    core = project / "src" / "core" / "silver_example.py"
    core.write_text(core.read_text() + CONTRACT)
    copy = copy_project(project, tmp_path / "worker-copy")
    log = tmp_path / "worker.log"
    worker = start_worker(copy, log)
    try:
        result = run_pipeline(project, "--executor", "celery", DAGSTER_HOME=str(tmp_path / "home"))
        assert result.returncode == 0, result.stdout + result.stderr + log.read_text()
    finally:
        stop_worker(worker)
    assert "contract_amount_max failed (failing_rows: 118" in result.stdout
    valid = pl.read_parquet(shared / "silver" / "example.parquet")
    rejected = pl.read_parquet(shared / "silver" / "example__rejected.parquet")
    assert valid.height == 980 - 118
    assert rejected.height == 118 and set(rejected["failed_rules"]) == {"amount|max"}


CHECKS = """
import json
import dagster as dg
instance = dg.DagsterInstance.get()
key = dg.AssetKey("run_silver_example")
run = instance.get_runs(limit=1)[0]
found = {}
for name in ("contract_amount_max", "contract_primary_key"):
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(key, name), limit=1
    )
    found[name] = None
    if history and history[0].event is not None:
        evaluation = history[0].event.dagster_event.event_specific_data
        found[name] = [evaluation.passed, evaluation.metadata["failing_rows"].value,
                       evaluation.metadata["run_id"].value]
print(json.dumps({"run": run.run_id, "checks": found}))
"""


def test_under_fail_a_celery_worker_writes_nothing_and_the_rules_show_as_checks(
    redis_url, tmp_path
):
    """`CONTRACT_POLICY = "fail"` on a worker: the run fails in one line, nothing is written,
    and the run's history holds each rule's check (the broken one failed, with its rows)."""
    project = init_project(tmp_path, "local", name="celery-contracts-fail")
    shared = tmp_path / "shared-data"
    set_env(
        project, CELERY_BROKER_URL=redis_url, POLSTER_SHARED_DISK="true", LOCAL_DATA_DIR=str(shared)
    )
    core = project / "src" / "core" / "silver_example.py"
    core.write_text(core.read_text() + CONTRACT.replace('"quarantine"', '"fail"'))
    copy = copy_project(project, tmp_path / "worker-copy")
    log = tmp_path / "worker.log"
    worker = start_worker(copy, log)
    home = tmp_path / "home"
    try:
        result = run_pipeline(project, "--executor", "celery", DAGSTER_HOME=str(home))
    finally:
        stop_worker(worker)
    assert result.returncode == 1, result.stdout + result.stderr + log.read_text()
    assert "amount|max: 118 rows; nothing was written" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (shared / "silver").exists()
    env = plugin_env(PYTHONPATH=str(project / "src"), DAGSTER_HOME=str(home))
    shown = run_python(project, "-c", CHECKS, env=env)
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert found["checks"]["contract_amount_max"] == [False, 118, found["run"]], found
