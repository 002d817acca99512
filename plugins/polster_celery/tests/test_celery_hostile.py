"""Hostile inputs to the celery executor (issue 25, class 5), with a real Redis
(``redis-server`` started by the tests on a free port, stopped by PID): a broker or result
backend URL with a mistyped scheme, and a run whose steps no worker takes. Each is one line on
stderr, exit code 1, the password masked, and no table written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery_fixtures import start_worker, stop_worker, wait_for_workers

from polster_core.testing.projects import plugin_env, set_env
from polster_core.testing.servers import free_port
from polster_core.testing.services import REDIS_PASSWORD


@pytest.fixture(scope="module")
def project(make_project) -> Path:
    root = make_project("hostile", "local")
    set_env(root, POLSTER_SHARED_DISK="true")
    return root


def run(project: Path, *args: str, timeout: float = 180, **env: str):
    """``python run_polster.py ARGS`` in ``project``; a run that hangs fails the test."""
    try:
        return subprocess.run(
            [sys.executable, "run_polster.py", *args],
            cwd=project,
            env=plugin_env(PYTHONPATH=str(project / "src"), **env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"python run_polster.py {' '.join(args)} still ran after {timeout}s: {exc}")


def one_error_line(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert REDIS_PASSWORD not in result.stdout + result.stderr
    return lines[0]


def test_a_mistyped_broker_scheme_is_one_line_naming_the_schemes_celery_knows(project):
    url = f"redsi://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    for args in (["--executor", "celery"], ["--worker", "--executor", "celery"]):
        line = one_error_line(run(project, *args, CELERY_BROKER_URL=url))
        assert line.startswith(
            "error: CELERY_BROKER_URL has a scheme Celery does not know, 'redsi' "
            "(did you mean redis://?): use one of "
        ), line
        assert "amqp" in line and "redis" in line and "sqs" in line
    assert not (project / "data").exists()


def test_a_mistyped_result_backend_scheme_is_one_line(project, redis_url):
    backend = f"rdis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/1"
    line = one_error_line(
        run(
            project,
            "--executor",
            "celery",
            CELERY_BROKER_URL=redis_url,
            CELERY_RESULT_BACKEND=backend,
        )
    )
    assert line.startswith(
        "error: CELERY_RESULT_BACKEND has a scheme Celery does not know, 'rdis' "
        "(did you mean redis://?): use one of "
    ), line
    assert "rpc" in line
    assert not (project / "data").exists()


def test_a_wait_that_is_not_a_number_is_one_line(project, redis_url):
    line = one_error_line(
        run(
            project,
            "--executor",
            "celery",
            CELERY_BROKER_URL=redis_url,
            POLSTER_CELERY_WORKER_WAIT="soon",
        )
    )
    assert line == (
        "error: POLSTER_CELERY_WORKER_WAIT must be a number of seconds, 0 or more (0: wait for "
        "a worker forever), not 'soon'"
    )


def test_a_run_no_worker_answers_stops_with_one_line_and_its_steps_never_run(
    project, redis_url, tmp_path
):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    result = run(
        project, "--executor", "celery", CELERY_BROKER_URL=redis_url, POLSTER_CELERY_WORKER_WAIT="2"
    )
    line = one_error_line(result)
    assert line.startswith("error: no Celery worker answered within 2 s at redis://:***@127.0.0.1:")
    assert "start one with `python run_polster.py --worker --executor celery`" in line
    assert "POLSTER_CELERY_WORKER_WAIT" in line
    assert "0 materialised, 0 failed, 3 skipped" in result.stdout
    assert "(the run stopped)" in result.stdout
    assert not (project / "data").exists()

    # A worker started afterwards takes the step the stopped run left queued, and runs nothing.
    queue = [k for k in client.keys("dagster*") if client.type(k) == b"list"]
    assert queue, "the stopped run's first step is expected in the queue"
    worker = start_worker(project, tmp_path / "worker.log", CELERY_BROKER_URL=redis_url)
    try:
        wait_for_workers(redis_url, 1, [worker])
        deadline = time.monotonic() + 120
        while any(client.llen(k) for k in queue) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(client.llen(k) for k in queue)
        # The worker took it: once Celery stored its result, the step is known to be skipped.
        while not client.keys("celery-task-meta-*") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.keys("celery-task-meta-*")
    finally:
        stop_worker(worker)
    assert not (project / "data").exists()
