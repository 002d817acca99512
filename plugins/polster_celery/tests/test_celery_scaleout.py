"""The celery executor as a user scales out: a RabbitMQ broker, two worker "machines" (each a
copy of the project) with the data on S3 (moto) and the history in PostgreSQL, and a worker
killed with SIGKILL in the middle of a step. Every server is real, started on free ports and
stopped by PID (fixtures of Polster's pytest plugin: polster_core.testing)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
from celery_fixtures import (
    copy_project,
    run_pipeline,
    start_run,
    start_worker,
    stop_worker,
    wait_for_workers,
)

from polster_core.testing.pipeline import LAYERS, grep_secrets
from polster_core.testing.projects import init_project, plugin_env, set_env
from polster_core.testing.servers import MOTO_KEY_ID, MOTO_SECRET
from polster_core.testing.services import PG_PASSWORD, RABBIT_PASSWORD, REDIS_PASSWORD

SLOW_STEP = """

# Added by the test suite: with POLSTER_TEST_SLOW_STEP set, the step says it started (a file)
# and then takes ten minutes, so that its worker can be killed in the middle of it.
_transform = transform


def transform(df):
    import os
    import time
    from pathlib import Path

    marker = os.environ.get("POLSTER_TEST_SLOW_STEP")
    if marker:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(600)
    return _transform(df)
"""


def shared_disk_project(parent: Path, broker: str) -> Path:
    """A project whose workers share this machine's disk (data in ``parent/shared``)."""
    project = init_project(parent, "local", name="celery-demo")
    set_env(
        project,
        CELERY_BROKER_URL=broker,
        POLSTER_SHARED_DISK="true",
        LOCAL_DATA_DIR=str(parent / "shared"),
    )
    return project


@pytest.mark.slow
def test_a_run_through_rabbitmq_completes(rabbitmq_url, tmp_path):
    project = shared_disk_project(tmp_path, rabbitmq_url)
    copy = copy_project(project, tmp_path / "worker")
    log = tmp_path / "worker.log"
    worker = start_worker(copy, log)
    try:
        wait_for_workers(rabbitmq_url, 1, [worker])
        result = run_pipeline(project, "--executor", "celery")
        assert result.returncode == 0, result.stdout + result.stderr + log.read_text()
        assert "Succeeded: 3 materialised, 0 failed" in result.stdout
    finally:
        stop_worker(worker)
    gold = pl.read_parquet(tmp_path / "shared" / "gold" / "example.parquet")
    assert gold["total_events"].sum() == 980
    texts = [result.stdout, result.stderr, log.read_text()]
    assert "waiting for steps from amqp://polster:***@127.0.0.1:" in texts[2]
    assert grep_secrets([project / ".dagster", copy], texts, [RABBIT_PASSWORD]) == []


def add_independent_assets(project: Path, count: int) -> None:
    """``count`` more bronze assets with no upstream: steps that can run at once."""
    from polster_core.testing.projects import run_polster

    for i in range(count):
        made = run_polster(
            "add-asset",
            "-l",
            "bronze",
            "-n",
            f"extra{i}",
            "--no-input",
            cwd=project,
            env=plugin_env(),
        )
        assert made.returncode == 0, made.stderr


def history_in_postgres(url: str) -> tuple[list[str], list]:
    """The runs' statuses and every event of the last run, read from PostgreSQL itself."""
    import psycopg2
    from dagster._serdes import deserialize_value

    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT run_id, status FROM runs ORDER BY create_timestamp")
            runs = cursor.fetchall()
            cursor.execute("SELECT event FROM event_logs WHERE run_id = %s", (runs[-1][0],))
            events = [deserialize_value(row[0]) for row in cursor.fetchall()]
    finally:
        connection.close()
    return [status for _, status in runs], events


@pytest.mark.slow
def test_two_worker_machines_share_s3_data_and_postgresql_history(
    redis_url, postgres, moto, tmp_path
):
    bucket = moto.create_bucket(f"celery-{uuid.uuid4().hex[:10]}")
    project = init_project(tmp_path, "s3", name="celery-s3")
    add_independent_assets(project, 3)
    set_env(
        project,
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=moto.endpoint,
        S3_REGION="us-east-1",
        S3_ACCESS_KEY_ID=MOTO_KEY_ID,
        S3_SECRET_ACCESS_KEY=MOTO_SECRET,
        S3_MAX_RETRIES="0",
        CELERY_BROKER_URL=redis_url,
        DAGSTER_POSTGRES_URL=postgres,
    )
    machines = [copy_project(project, tmp_path / name) for name in ("machine-a", "machine-b")]
    logs = [tmp_path / f"{m.name}.log" for m in machines]
    workers = [start_worker(m, log) for m, log in zip(machines, logs, strict=True)]
    try:
        names = wait_for_workers(redis_url, 2, workers)
        result = run_pipeline(project, "--executor", "celery")
        output = result.stdout + result.stderr + "".join(log.read_text() for log in logs)
        assert result.returncode == 0, output
        assert "Succeeded: 6 materialised, 0 failed" in result.stdout, output
    finally:
        for worker in workers:
            stop_worker(worker)
    # The tables are on S3, written by the workers.
    keys = moto.keys(bucket)
    for layer in LAYERS:
        assert f"celery-s3/data/{layer}/example.parquet" in keys, keys
    for i in range(3):
        assert f"celery-s3/data/bronze/extra{i}.parquet" in keys, keys
    # The history the UI shows is in PostgreSQL: the run, and which worker ran each step.
    statuses, events = history_in_postgres(postgres)
    assert statuses == ["SUCCESS"]
    ran_on = {}
    for event in events:
        if "in celery worker" in event.message:
            data = event.dagster_event.engine_event_data
            ran_on[event.step_key] = data.metadata["Celery worker"].value
    assert len(ran_on) == 6, ran_on
    assert set(ran_on.values()) == set(names), ran_on  # both machines executed steps
    assert sorted(name.split("-")[2] for name in names) == ["a", "b"], names
    for root in (project, *machines):
        assert not (root / ".dagster" / "history" / "runs.db").exists()
    texts = [result.stdout, result.stderr, *(log.read_text() for log in logs)]
    secrets = [REDIS_PASSWORD, PG_PASSWORD, MOTO_SECRET]
    places = [project / ".dagster", *(m / ".dagster" for m in machines)]
    assert grep_secrets([p for p in places if p.exists()], texts, secrets) == []
    assert "waiting for steps from redis://:***@127.0.0.1:" in texts[2]


def add_slow_step(project: Path) -> None:
    core = project / "src" / "core" / "silver_example.py"
    text = core.read_text(encoding="utf-8")
    main = text.index('\nif __name__ == "__main__":')
    core.write_text(text[:main] + SLOW_STEP + text[main:], encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis_url", "rabbitmq_url"])
def test_a_worker_killed_mid_step_fails_that_asset_and_a_rerun_completes(broker, request, tmp_path):
    url = request.getfixturevalue(broker)
    project = shared_disk_project(tmp_path, url)
    copy = copy_project(project, tmp_path / "worker")
    add_slow_step(copy)  # the worker's code sleeps in silver when told to
    silver = tmp_path / "shared" / "silver" / "example.parquet"

    # A first run: the tables to keep.
    log = tmp_path / "worker-1.log"
    worker = start_worker(copy, log)
    try:
        first = run_pipeline(project, "--executor", "celery")
        assert first.returncode == 0, first.stdout + first.stderr + log.read_text()
    finally:
        stop_worker(worker)
    before = pl.read_parquet(silver)

    # The second run's worker is killed (its whole process group) while silver runs.
    marker = tmp_path / "silver-started"
    log = tmp_path / "worker-2.log"
    worker = start_worker(copy, log, POLSTER_TEST_SLOW_STEP=str(marker))
    started = time.monotonic()
    second = start_run(project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not marker.exists():
            assert second.poll() is None, second.communicate()
            assert time.monotonic() - started < 300, log.read_text()
            time.sleep(0.2)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        killed = time.monotonic()
        # No hang: the run notices the worker is gone, fails silver and stops.
        stdout, stderr = second.communicate(timeout=180)
    finally:
        if second.poll() is None:
            second.kill()
            second.communicate()
    assert time.monotonic() - killed < 120
    assert second.returncode == 1, stdout + stderr
    fail = [line for line in stdout.splitlines() if line.startswith("  FAIL  ")]
    assert len(fail) == 1 and "run_silver_example" in fail[0], stdout
    assert "the Celery worker running this step (polster-worker-" in fail[0]
    assert "stopped answering" in fail[0] and "run the pipeline again" in fail[0]
    assert "FAILED: 1 materialised, 1 failed, 1 skipped" in stdout
    assert "error in run_silver_example: the Celery worker running this step" in stderr
    assert "Traceback" not in stdout + stderr
    # Silver's previous table is still there, whole.
    assert pl.read_parquet(silver).equals(before)

    # A fresh worker (not slow): the rerun completes.
    log = tmp_path / "worker-3.log"
    worker = start_worker(copy, log)
    try:
        third = run_pipeline(project, "--executor", "celery")
        assert third.returncode == 0, third.stdout + third.stderr + log.read_text()
        assert "Succeeded: 3 materialised, 0 failed" in third.stdout
    finally:
        stop_worker(worker)
    assert pl.read_parquet(silver).equals(before)  # the same data, written again
    texts = [stdout, stderr, third.stdout, third.stderr, log.read_text()]
    secrets = [REDIS_PASSWORD, RABBIT_PASSWORD]
    assert grep_secrets([project / ".dagster", copy], texts, secrets) == []
