"""The celery executor: dagster-celery's ``CeleryExecutor`` with its broker and result backend
from the environment (``.env``), a preflight that fails fast, and the worker.

dagster-celery's own ``celery_executor`` takes the broker's URL from the run config, which
Dagster stores in the run's history; this one reads it from ``CELERY_BROKER_URL`` in each
process, so a password in it is never recorded. Its worker (``run_polster.py --worker``) is
``celery -A dagster_celery.app worker`` run in this process with the same broker: no config
file with the URL is written to disk, as ``dagster-celery worker start`` would.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
from dagster._core.definitions.executor_definition import multiple_process_executor_requirements
from dagster._core.execution.retries import RetryMode, get_retries_config

from . import BACKEND_ENV, BROKER_ENV, SHARED_DISK_ENV

# Seconds the preflight waits for the broker.
BROKER_TIMEOUT = 3.0
TRUE = ("1", "true", "yes", "on")


def broker_urls(settings: Mapping[str, str]) -> tuple[str, str]:
    broker = (settings.get(BROKER_ENV) or "").strip()
    backend = (settings.get(BACKEND_ENV) or "").strip() or broker
    return broker, backend


@dg.executor(
    name="celery",
    config_schema={"retries": get_retries_config()},
    requirements=multiple_process_executor_requirements(),
)
def celery_executor(init_context):
    """Steps on Celery workers; broker and result backend from ``CELERY_BROKER_URL`` and
    ``CELERY_RESULT_BACKEND`` (default: the broker)."""
    from dagster_celery.executor import CeleryExecutor

    broker, backend = broker_urls(os.environ)
    return CeleryExecutor(
        retries=RetryMode.from_config(init_context.executor_config["retries"]),
        broker=broker or None,
        backend=backend or None,
    )


def _mask(url: str) -> str:
    from polster_core.runner import mask_url

    return mask_url(url)


def preflight(settings: Mapping[str, str]) -> str | None:
    """Why a run with the celery executor cannot start, in one line, or ``None``."""
    storage = (settings.get("STORAGE_BACKEND") or "local").strip().lower()
    shared = (settings.get(SHARED_DISK_ENV) or "").strip().lower() in TRUE
    if storage == "local" and not shared:
        return (
            "the celery executor runs steps on worker machines, which cannot see this "
            "machine's disk (STORAGE_BACKEND=local): use storage every worker reaches "
            f"(polster enable s3, adls, ...), or set {SHARED_DISK_ENV}=true if every worker "
            "mounts the same LOCAL_DATA_DIR"
        )
    if not shared and not (settings.get("DAGSTER_POSTGRES_URL") or "").strip():
        return (
            "the celery executor's workers on other machines need the run's history, which is "
            "in this machine's .dagster/: set DAGSTER_POSTGRES_URL to a PostgreSQL every "
            f"machine reaches, or set {SHARED_DISK_ENV}=true if the workers share this disk"
        )
    broker, _ = broker_urls(settings)
    if not broker:
        return (
            f"{BROKER_ENV} is not set: set it in .env to your Celery broker, e.g. "
            "redis://127.0.0.1:6379/0"
        )
    return broker_problem(broker)


def broker_problem(url: str, timeout: float = BROKER_TIMEOUT) -> str | None:
    """Why the broker at ``url`` does not answer (one line, password masked), or ``None``.
    Redis: a PING; RabbitMQ (amqp): a TCP connection; other transports are not checked."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host, port = parts.hostname or "localhost", parts.port
    except ValueError as exc:
        return f"{BROKER_ENV} is not a valid URL ({_mask(url)}): {exc}"
    try:
        if scheme in ("redis", "rediss"):
            import redis

            client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            try:
                client.ping()
            finally:
                client.close()
        elif scheme in ("amqp", "amqps", "pyamqp", "librabbitmq"):
            default = 5671 if scheme == "amqps" else 5672
            socket.create_connection((host, port or default), timeout=timeout).close()
        else:
            return None
    except Exception as exc:
        from polster_core.errors import one_line

        text = str(exc).strip() or type(exc).__name__
        reason = one_line(text.splitlines()[0]).replace(url, _mask(url))
        return (
            f"the Celery broker at {_mask(url)} ({BROKER_ENV}) does not answer: {reason}; "
            "start it or fix the URL"
        )
    return None


def worker(root: Path, argv: list[str]) -> int:
    """A Celery worker for the project in ``root`` until stopped (Ctrl+C, SIGTERM); ``argv``
    are extra ``celery worker`` options, e.g. ``["--concurrency=2"]``."""
    broker, backend = broker_urls(os.environ)
    if not broker:
        print(
            f"error: {BROKER_ENV} is not set: set it in .env to the broker the runs use",
            file=sys.stderr,
        )
        return 1
    problem = broker_problem(broker)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    app = make_app(CeleryExecutor.for_cli(broker=broker, backend=backend).app_args())
    create_task(app)
    name = f"polster-{Path(root).name}-{os.getpid()}@%h"
    args = ["worker", "--prefetch-multiplier=1", "-Q", "dagster", "-n", name]
    args += ["--loglevel=WARNING", *argv]
    print(f"Celery worker of {Path(root).name}: waiting for steps from {_mask(broker)} ...")
    try:
        app.worker_main(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0
