"""The celery executor with a real Redis broker (``redis-server``, started by the tests on a free
port with a password, stopped by PID): registration, the preflight's refusals, and a run whose
steps a ``run_polster.py --worker`` process (in a copy of the project) executes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from celery_fixtures import copy_project, run_pipeline, start_worker, stop_worker

from polster_core.testing.pipeline import LAYERS, grep_secrets
from polster_core.testing.projects import plugin_env, set_env
from polster_core.testing.servers import free_port
from polster_core.testing.services import REDIS_PASSWORD

PASSWORD = REDIS_PASSWORD


@pytest.fixture(scope="module")
def project(make_project) -> Path:
    return make_project("celery-demo", "local")


def test_the_plugin_registers_the_celery_executor():
    from polster_core.plugins import get_plugins

    executor = get_plugins().executor("celery")
    assert executor.remote and executor.plugin == "polster-celery"
    assert executor.preflight is not None and executor.worker is not None
    secret = {s.name for s in executor.settings if s.secret}
    assert secret == {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "polster"), "plugins"],
        env=plugin_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("celery "))
    assert "polster-celery" in line and line.endswith("executors: celery")


def test_local_storage_is_refused_unless_the_disk_is_shared(project, redis_url):
    result = run_pipeline(project, "--executor", "celery", CELERY_BROKER_URL=redis_url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the celery executor runs steps on worker machines, which")
    assert "POLSTER_SHARED_DISK=true" in lines[0]
    assert not (project / "data").exists()  # no step ran


def test_a_broker_that_is_down_is_one_masked_line_and_fast(project):
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    result = run_pipeline(
        project, "--executor", "celery", CELERY_BROKER_URL=url, POLSTER_SHARED_DISK="true"
    )
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the Celery broker at redis://:***@127.0.0.1:")
    assert "does not answer" in lines[0]
    assert PASSWORD not in result.stdout + result.stderr
    # The worker refuses the same way.
    worker = run_pipeline(project, "--worker", "--executor", "celery", CELERY_BROKER_URL=url)
    assert worker.returncode == 1
    assert worker.stderr.strip().startswith("error: the Celery broker at redis://:***@")
    assert PASSWORD not in worker.stdout + worker.stderr


def test_preflight_checks_the_broker_in_seconds():
    from polster_celery.executor import broker_problem

    assert broker_problem("redis://127.0.0.1:1/0") is not None
    assert broker_problem("amqp://guest:pw@127.0.0.1:1//").startswith(
        "the Celery broker at amqp://guest:***@127.0.0.1:1// (CELERY_BROKER_URL) does not answer"
    )
    # A host that never answers (a non-routable address): the timeout, not a hang.
    started = time.monotonic()
    assert broker_problem("redis://10.255.255.1:6379/0", timeout=1) is not None
    assert time.monotonic() - started < 10


def test_workers_elsewhere_need_a_shared_history_and_a_broker(redis_url):
    from polster_celery.executor import preflight

    cloud = {"STORAGE_BACKEND": "s3", "CELERY_BROKER_URL": redis_url}
    assert "set DAGSTER_POSTGRES_URL to a PostgreSQL every machine reaches" in preflight(cloud)
    assert preflight({**cloud, "DAGSTER_POSTGRES_URL": "postgresql://h/db"}) is None
    assert preflight({**cloud, "POLSTER_SHARED_DISK": "true"}) is None
    no_broker = {"STORAGE_BACKEND": "s3", "POLSTER_SHARED_DISK": "true"}
    assert preflight(no_broker).startswith("CELERY_BROKER_URL is not set: set it in .env")


def test_worker_without_an_executor_is_one_line(project):
    result = run_pipeline(project, "--worker")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --worker needs an executor with workers: add --executor NAME (e.g. celery) "
        "or set POLSTER_EXECUTOR in .env"
    )


def tables(data: Path) -> dict[str, pl.DataFrame]:
    """Every table (and local sample) under ``data``, by its path."""
    return {p.relative_to(data).as_posix(): pl.read_parquet(p) for p in data.rglob("*.parquet")}


@pytest.mark.slow
def test_a_worker_runs_the_steps_and_the_tables_equal_in_process_and_multiprocess_runs(
    project, redis_url, tmp_path
):
    shared = tmp_path / "shared-data"
    set_env(
        project,
        CELERY_BROKER_URL=redis_url,
        POLSTER_SHARED_DISK="true",
        LOCAL_DATA_DIR=str(shared),
    )
    # The worker runs from its own copy of the project, as on another machine.
    copy = copy_project(project, tmp_path / "worker-copy")
    log = tmp_path / "worker.log"
    worker = start_worker(copy, log)
    try:
        home = tmp_path / "home"
        result = run_pipeline(project, "--executor", "celery", DAGSTER_HOME=str(home))
        assert result.returncode == 0, result.stdout + result.stderr + log.read_text()
        assert "Succeeded: 3 materialised, 0 failed" in result.stdout
        assert worker.poll() is None, log.read_text()
    finally:
        stop_worker(worker)
    # The steps ran in the worker: Dagster's history says so.
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_run_records()
        logs = instance.all_logs(record.dagster_run.run_id)
        assert any("in celery worker" in entry.message for entry in logs)
        assert PASSWORD not in str(record.dagster_run.run_config)
    # The same project in one process and with two worker processes: the same tables.
    runs = {"celery": shared}
    for name, args in (("in-process", ()), ("multiprocess", ("--workers", "2"))):
        data = tmp_path / f"{name}-data"
        other = run_pipeline(
            project, *args, LOCAL_DATA_DIR=str(data), DAGSTER_HOME=str(tmp_path / name)
        )
        assert other.returncode == 0, other.stdout + other.stderr
        assert "Succeeded: 3 materialised, 0 failed" in other.stdout
        runs[name] = data
    found = {name: tables(data) for name, data in runs.items()}
    assert sorted(found["in-process"]) == sorted(f"{layer}/example.parquet" for layer in LAYERS)
    for name in ("celery", "multiprocess"):
        assert sorted(found[name]) == sorted(found["in-process"]), name
        for path, frame in found["in-process"].items():
            assert found[name][path].equals(frame), f"{name}: {path}"
    assert found["celery"]["bronze/example.parquet"].height > 0
    texts = [result.stdout, result.stderr, log.read_text()]
    assert "waiting for steps from redis://:***@127.0.0.1:" in texts[2]
    found = grep_secrets([home, copy / ".dagster"], texts, [PASSWORD])
    assert found == []
