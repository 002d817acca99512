"""Workers and runs of the celery executor's tests, from copies of a project.

The brokers (fixtures ``redis_url`` and ``rabbitmq_url``: real Redis and RabbitMQ servers of
the test's own) come from Polster's pytest plugin (``polster_core.testing.services``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from polster_core.testing.projects import plugin_env, run_python


def copy_project(project: Path, dest: Path) -> Path:
    """A copy of the project's code and ``.env``, as on another machine (no data, no history)."""
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(".dagster", "data", "__pycache__"))
    return dest


def start_worker(root: Path, log: Path, *args: str, **env: str) -> subprocess.Popen:
    """``python run_polster.py --worker --executor=celery`` in ``root``, in its own process
    group, its output in ``log``; one step at a time unless ``args`` say otherwise."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "run_polster.py", "--worker", "--executor=celery", "--workers=1"]
            + list(args),
            cwd=root,
            env=plugin_env(PYTHONPATH=str(root / "src"), **env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_workers(broker: str, count: int, workers: list, timeout: float = 120) -> list[str]:
    """The names of ``count`` workers that answer a ping on ``broker`` (asserts they come)."""
    from celery import Celery

    app = Celery(broker=broker)
    try:
        deadline = time.monotonic() + timeout
        while True:
            for worker in workers:
                assert worker.poll() is None, f"a worker stopped with {worker.returncode}"
            names = sorted(name for reply in app.control.ping(timeout=1) for name in reply)
            if len(names) >= count:
                return names
            assert time.monotonic() < deadline, f"only {names} answer after {timeout}s"
    finally:
        app.close()


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM (Celery's warm shutdown), SIGKILL to its process group if it does not stop."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def start_run(project: Path, **popen) -> subprocess.Popen:
    """``python run_polster.py --executor celery`` in ``project`` with the plugins, started
    (``popen``: where its output goes, ...); the caller waits for it or stops it."""
    return subprocess.Popen(
        [sys.executable, "run_polster.py", "--executor", "celery"],
        cwd=project,
        env=plugin_env(PYTHONPATH=str(project / "src")),
        **popen,
    )


def run_pipeline(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python run_polster.py ARGS`` in ``project``, with the plugins and ``env``."""
    env = plugin_env(PYTHONPATH=str(project / "src"), **env)
    return run_python(project, "run_polster.py", *args, env=env, timeout=600)
