"""Polster executor ``celery``: a pipeline's steps run on Celery workers (dagster-celery).

``python run_polster.py --executor celery`` sends each step to the broker at
``CELERY_BROKER_URL`` (Redis or RabbitMQ); ``python run_polster.py --worker`` (on this machine
or others, each with a copy of the project) runs a Celery worker that takes steps from it.
Workers write the tables, so they need storage every machine reaches, and the run's history
(``DAGSTER_POSTGRES_URL`` across machines).

Importing this module is cheap: dagster, celery and redis load when a run or worker starts.
"""

from polster_core import hookimpl
from polster_core.specs import Executor, Setting, compatible_requirement

from .names import BACKEND_ENV, BROKER_ENV, SHARED_DISK_ENV, WAIT_ENV, WORKER_WAIT

__version__ = "0.1.1"


SETTINGS = (
    Setting(
        BROKER_ENV,
        "Celery broker of the celery executor, e.g. redis://:password@host:6379/0 or "
        "amqp://user:password@host:5672//",
        example="redis://127.0.0.1:6379/0",
        secret=True,
    ),
    Setting(
        BACKEND_ENV,
        "Where Celery keeps step results (empty: the broker)",
        secret=True,
    ),
    Setting(
        SHARED_DISK_ENV,
        "true if every Celery worker sees the same LOCAL_DATA_DIR (STORAGE_BACKEND=local)",
        default="false",
    ),
    Setting(
        WAIT_ENV,
        "Seconds a run waits for a Celery worker to answer while its steps are queued, before "
        "it stops with one line (0: wait forever, e.g. for workers started on demand)",
        default=str(WORKER_WAIT),
    ),
)


def _executor_def():
    from .executor import celery_executor

    return celery_executor


def _run_config(settings, workers: int) -> dict:
    # Empty on purpose: the broker's URL (a secret) is read from the environment, never put
    # into the run's config, which Dagster keeps in its history.
    return {}


def _preflight(settings):
    from .executor import preflight

    return preflight(settings)


def _worker(root, argv):
    from .executor import worker

    return worker(root, argv)


@hookimpl
def polster_executors(register):
    register(
        Executor(
            name="celery",
            description="steps on Celery workers, on this machine or others (run_polster.py "
            "--worker); broker: Redis or RabbitMQ",
            executor_def=_executor_def,
            run_config=_run_config,
            settings=SETTINGS,
            requirement=compatible_requirement("polster-celery", __version__),
            remote=True,
            preflight=_preflight,
            worker=_worker,
        )
    )
