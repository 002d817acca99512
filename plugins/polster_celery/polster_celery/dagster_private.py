"""The Celery concern: the private names of Dagster and dagster-celery that Polster's Celery
executor (:mod:`polster_celery.executor`) and worker task (:mod:`polster_celery.tasks`) use,
imported here and nowhere else, and the check that they have the shape used.

What they buy: dagster-celery's loop looks at its steps once a second
(``core_execution_loop.TICK_SECONDS``: Polster sets 0.05 s while its own run's loop runs,
:func:`quick_ticks`), submits each step with the run's whole packed arguments in the message
headers (Polster's ``Submitter``: the same task and arguments, built once per run), asks each
pending result on its own (``ResultBoard``: one ``MGET`` a look), and its worker task opens the
instance and plans the whole run again for every step (Polster's task runs the step through
:func:`polster_core.pool.run_step`, which needs the step pool boundary too). The lost-worker
watch (a step whose worker died fails instead of hanging the run) goes through the same loop.

When the check fails, or ``POLSTER_DAGSTER_FALLBACK`` names ``celery`` (or ``pool``, which the
task needs), runs use dagster-celery's own ``CeleryExecutor`` (its loop, its submission) with
the broker from the environment, and ``--worker`` registers dagster-celery's own task: the
same steps and results, slower per step, without the lost-worker watch.

``multiple_process_executor_requirements``, ``RetryMode`` and ``get_retries_config`` define the
executor itself (dagster-celery's own executor imports them from the same places): without
them there is no Celery executor at all, and the import fails with one line.
"""

# ruff: noqa: F401  (the private names are imported here for the modules behind this boundary)
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from polster_core.run.dagster_private import check, has_attributes, has_parameters

try:
    from dagster._core.definitions.executor_definition import (
        multiple_process_executor_requirements,
    )
    from dagster._core.execution.retries import RetryMode, get_retries_config
    from dagster_celery.make_app import make_app  # the worker's app, as `dagster-celery worker`
except ImportError as exc:
    raise ImportError(
        f"the celery executor needs Dagster internals this Dagster does not have ({exc}): "
        "install the Dagster range Polster declares"
    ) from exc

try:
    from dagster._core.definitions.reconstruct import ReconstructableJob
    from dagster._core.events import EngineEventData
    from dagster._grpc.types import ExecuteStepArgs
    from dagster._serdes import pack_value, serialize_value, unpack_value
    from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info
    from dagster_celery import core_execution_loop
    from dagster_celery import executor as celery_executor_module
    from dagster_celery import tasks as celery_tasks
    from dagster_celery.config import TASK_EXECUTE_PLAN_NAME
    from dagster_celery.core_execution_loop import DELEGATE_MARKER, core_celery_execution_loop

    _IMPORTED = None
except ImportError as exc:
    _IMPORTED = f"ImportError: {exc}"

STEP_ARGS = (
    "job_origin",
    "run_id",
    "step_keys_to_execute",
    "instance_ref",
    "retry_mode",
    "known_state",
    "print_serialized_events",
)


def _probe() -> str | None:
    if _IMPORTED:
        return _IMPORTED
    from polster_core.run.dagster_private import step_pool

    if not step_pool.AVAILABLE:
        return "Polster's step pool fell back (its worker task runs steps through it)"
    tick = getattr(core_execution_loop, "TICK_SECONDS", None)
    checks = (
        None if isinstance(tick, (int, float)) else "dagster_celery has no TICK_SECONDS",
        has_parameters(
            core_celery_execution_loop, "job_context", "execution_plan", "step_execution_fn"
        ),
        # Polster's submit stands in for dagster-celery's: called with the same arguments.
        has_parameters(
            celery_executor_module._submit_task,
            "app",
            "plan_context",
            "step",
            "queue",
            "priority",
            "known_state",
        ),
        has_parameters(celery_tasks.create_task, "celery_app"),
        has_parameters(ExecuteStepArgs, *STEP_ARGS),
        has_attributes(celery_executor_module.CeleryExecutor, "for_cli", "app_args", "execute"),
        None if isinstance(TASK_EXECUTE_PLAN_NAME, str) else "no TASK_EXECUTE_PLAN_NAME",
    )
    return next((problem for problem in checks if problem), None)


AVAILABLE = check("celery", _probe)


def quick_ticks(loop: Iterator[Any], tick: float) -> Iterator[Any]:
    """dagster-celery's ``loop`` (a generator) with ``TICK_SECONDS`` at ``tick`` while it
    runs; dagster-celery's own value is back when it ends, so other runs of the process (a
    ``dagster dev`` code server, a run of dagster-celery's own executor) keep theirs."""
    with _TICK_LOCK:
        if not _RUNNING[0]:
            _RUNNING[1] = core_execution_loop.TICK_SECONDS
        _RUNNING[0] += 1
        core_execution_loop.TICK_SECONDS = tick
    try:
        yield from loop
    finally:
        with _TICK_LOCK:
            _RUNNING[0] -= 1
            if not _RUNNING[0]:
                core_execution_loop.TICK_SECONDS = _RUNNING[1]


_TICK_LOCK = threading.Lock()
_RUNNING: list = [0, None]  # Polster loops running in this process, dagster-celery's tick


def stock_create_task(celery_app: Any, **task_kwargs: Any) -> Any:
    """dagster-celery's own worker task (the fallback of ``polster_celery.tasks.create_task``)."""
    from dagster_celery.tasks import create_task

    return create_task(celery_app, **task_kwargs)
