"""Issue 25, class 4: a broker password with a raw ``@`` (as a user may write it in
``CELERY_BROKER_URL``) is masked whole, not up to its first ``@``. A real Redis (started by the
test on a free port, stopped by PID): refused by the run's preflight, and served by a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import celery_fixtures
import pytest
from celery_fixtures import run_pipeline

from polster_core.testing.projects import plugin_env
from polster_core.testing.secrets import marked
from polster_core.testing.services import REDIS_PASSWORD


@pytest.fixture(scope="module")
def project(make_project) -> Path:
    return make_project("celery-at", "local")


def test_a_wrong_password_with_a_raw_at_is_one_line_masked_whole(project, redis_url):
    tail = marked(24)
    url = redis_url.replace(f":{REDIS_PASSWORD}@", f":Wrong@{tail}@")
    result = run_pipeline(
        project, "--executor", "celery", CELERY_BROKER_URL=url, POLSTER_SHARED_DISK="true"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    host = url.rsplit("@", 1)[1]
    assert lines[0].startswith(f"error: the Celery broker at redis://:***@{host} "), lines[0]
    assert tail not in result.stdout + result.stderr


def test_a_worker_shows_a_password_with_a_raw_at_masked_whole(project, redis_url, tmp_path):
    import redis

    password = f"Raw@{marked(24)}"
    client = redis.Redis.from_url(redis_url)
    client.config_set("requirepass", password)
    url = redis_url.replace(f":{REDIS_PASSWORD}@", f":{password}@")
    log = tmp_path / "worker.log"
    try:
        with open(log, "w") as out:
            worker = subprocess.Popen(
                [sys.executable, "run_polster.py", "--worker", "--executor=celery"],
                cwd=project,
                env=plugin_env(
                    PYTHONPATH=str(project / "src"),
                    CELERY_BROKER_URL=url,
                    POLSTER_SHARED_DISK="true",
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 120
            while "waiting for steps from" not in log.read_text():
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    finally:
        redis.Redis.from_url(url).config_set("requirepass", REDIS_PASSWORD)
    text = log.read_text()
    assert f"waiting for steps from redis://:***@{url.rsplit('@', 1)[1]} ..." in text, text
    assert password.split("@")[1] not in text


def _children(pid: int) -> int:
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += fields[1] == str(pid)
    return count


def test_a_workers_concurrency_is_bounded_by_the_machine(project, redis_url, tmp_path):
    """Issue 25, class 5: ``--worker --workers 99999999999999999999`` forks no more Celery
    processes than the machine takes (4 per CPU), and says so."""
    from polster_core.pool import PER_CPU, machine_cpus

    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [sys.executable, "run_polster.py", "--worker", "--executor=celery"]
            + ["--workers", "99999999999999999999"],
            cwd=project,
            env=plugin_env(
                PYTHONPATH=str(project / "src"),
                CELERY_BROKER_URL=redis_url,
                POLSTER_SHARED_DISK="true",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        celery_fixtures.wait_for_workers(redis_url, 1, [worker])
        children = _children(worker.pid)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    cap = PER_CPU * machine_cpus()
    text = log.read_text()
    assert (
        f"--workers 99999999999999999999: using {cap} (at most {PER_CPU} per CPU, and this "
        f"machine has {machine_cpus()})"
    ) in text.splitlines(), text
    assert 1 <= children <= cap, children
