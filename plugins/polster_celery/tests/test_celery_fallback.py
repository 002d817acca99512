"""The celery executor with Polster's faster path off (POLSTER_DAGSTER_FALLBACK=celery, as on a
Dagster or dagster-celery whose internals moved): dagster-celery's own loop and worker task run
the steps, with the same tables as a run in one process, and --verbose says so once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from celery_fixtures import copy_project, run_pipeline, start_worker, stop_worker

from polster_core.testing.pipeline import LAYERS
from polster_core.testing.projects import init_project, set_env

NOTE = "note: using dagster-celery's own executor loop and worker task"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return init_project(tmp_path_factory.mktemp("celery-fallback"), "local", name="fallback-demo")


def tables(data: Path) -> dict[str, pl.DataFrame]:
    return {p.relative_to(data).as_posix(): pl.read_parquet(p) for p in data.rglob("*.parquet")}


@pytest.mark.slow
def test_dagster_celerys_own_loop_and_task_give_the_same_tables(project, redis_url, tmp_path):
    shared = tmp_path / "shared-data"
    set_env(
        project, CELERY_BROKER_URL=redis_url, POLSTER_SHARED_DISK="true", LOCAL_DATA_DIR=str(shared)
    )
    forced = {"POLSTER_DAGSTER_FALLBACK": "celery"}
    copy = copy_project(project, tmp_path / "worker-copy")
    log = tmp_path / "worker.log"
    worker = start_worker(copy, log, **forced)
    try:
        home = tmp_path / "home"
        result = run_pipeline(
            project, "--executor", "celery", "--verbose", DAGSTER_HOME=str(home), **forced
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output + log.read_text()
        assert "Succeeded: 3 materialised, 0 failed" in result.stdout
        assert output.count(NOTE) == 1
    finally:
        stop_worker(worker)
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        logs = instance.all_logs(record.dagster_run.run_id)
        assert any("in celery worker" in entry.message for entry in logs)
    local = tmp_path / "in-process-data"
    other = run_pipeline(project, LOCAL_DATA_DIR=str(local), DAGSTER_HOME=str(tmp_path / "ip"))
    assert other.returncode == 0, other.stdout + other.stderr
    found, expected = tables(shared), tables(local)
    assert sorted(expected) == sorted(f"{layer}/example.parquet" for layer in LAYERS)
    assert sorted(found) == sorted(expected)
    for path, frame in expected.items():
        assert found[path].equals(frame), path
