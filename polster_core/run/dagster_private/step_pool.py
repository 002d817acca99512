"""The step pool concern: Dagster's private execution names that Polster's worker pool
(:mod:`polster_core.pool`, ``run_polster.py --workers N``) and its Celery worker task run
steps with, and the check that they are there.

The pool is a Dagster ``Executor`` that drives Dagster's own ``ActiveExecution`` (what runs
next) and runs each step in a long-lived worker through ``create_execution_plan`` and
``execute_plan_iterator``, what dagster-celery's workers call. While a worker plans or runs a
step, :func:`resolved_once` keeps ``ResolvedRunConfig.build``'s answer for the same job and
config (Dagster resolves the run config again for each step otherwise); outside those calls,
and in any other process, ``ResolvedRunConfig.build`` is Dagster's own.

When the check fails, or ``POLSTER_DAGSTER_FALLBACK`` names ``pool``, the ``multiprocess``
executor is Dagster's own ``multiprocess_executor`` (a new process per step; the same results)
and :mod:`polster_core.pool` is never imported.
"""

# ruff: noqa: F401  (the private names are imported here for the modules behind this boundary)
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import check, has_attributes, has_parameters

try:
    from dagster._core.events import DagsterEvent, EngineEventData
    from dagster._core.execution.api import create_execution_plan, execute_plan_iterator
    from dagster._core.execution.context.system import PlanOrchestrationContext
    from dagster._core.execution.plan.active import ActiveExecution
    from dagster._core.execution.plan.instance_concurrency_context import (
        InstanceConcurrencyContext,
    )
    from dagster._core.execution.plan.plan import ExecutionPlan
    from dagster._core.execution.retries import RetryMode, get_retries_config
    from dagster._core.executor.base import Executor
    from dagster._core.system_config.objects import ResolvedRunConfig
    from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info

    _IMPORTED = None
except ImportError as exc:
    _IMPORTED = f"ImportError: {exc}"


def _probe() -> str | None:
    if _IMPORTED:
        return _IMPORTED
    checks = (
        has_parameters(create_execution_plan, "job", "run_config", "step_keys_to_execute"),
        has_parameters(create_execution_plan, "known_state", "repository_load_data"),
        has_parameters(execute_plan_iterator, "execution_plan", "job", "dagster_run"),
        has_parameters(execute_plan_iterator, "instance", "retry_mode", "run_config"),
        has_parameters(
            ActiveExecution,
            "execution_plan",
            "retry_mode",
            "max_concurrent",
            "instance_concurrency_context",
        ),
        has_attributes(
            ActiveExecution,
            "is_complete",
            "check_for_interrupts",
            "mark_interrupted",
            "get_steps_to_execute",
            "concurrency_event_iterator",
            "plan_events_iterator",
            "handle_event",
            "verify_complete",
            "get_known_state",
            "get_step_by_key",
        ),
        has_parameters(InstanceConcurrencyContext, "instance", "dagster_run"),
        has_parameters(ExecutionPlan.build_subset_plan, "step_keys_to_execute", "job_def"),
        has_attributes(ExecutionPlan, "step_dict_by_key", "known_state", "_replace"),
        has_parameters(ResolvedRunConfig.build, "job_def", "run_config"),
        has_attributes(Executor, "log_failure_or_retry_event_after_error", "retries"),
        has_attributes(PlanOrchestrationContext, "for_step", "reconstructable_job"),
        has_attributes(RetryMode, "DISABLED", "from_config", "for_inner_plan"),
    )
    return next((problem for problem in checks if problem), None)


AVAILABLE = check("pool", _probe)

# The run config last resolved while resolved_once() was in force: (job def, config, resolved).
_RESOLVED: list[tuple[Any, Any, Any]] = []
_IN_FORCE = [0]  # how many resolved_once() blocks are open in this process
_LOCK = threading.Lock()


@contextmanager
def resolved_once() -> Iterator[None]:
    """While it lasts, ``ResolvedRunConfig.build`` answers the same job definition and config
    with the config it last resolved (Dagster's own answer, built once) instead of validating
    the run's config against the job's whole schema again (about 5 ms a step on a 93-asset
    job, as long as a small step itself). Only Polster's step workers use it, around planning
    and running a step; Dagster's ``build`` is back when the last block ends."""
    with _LOCK:
        if not _IN_FORCE[0]:
            stock = ResolvedRunConfig.__dict__["build"]
            build = stock.__func__

            def resolved(job_def: Any, run_config: Any = None) -> Any:
                if _RESOLVED and _RESOLVED[0][0] is job_def and _RESOLVED[0][1] == run_config:
                    return _RESOLVED[0][2]
                answer = build(job_def, run_config)
                _RESOLVED[:] = [(job_def, run_config, answer)]
                return answer

            resolved.polster_stock = stock  # type: ignore[attr-defined]
            ResolvedRunConfig.build = staticmethod(resolved)  # type: ignore[method-assign]
        _IN_FORCE[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _IN_FORCE[0] -= 1
            if not _IN_FORCE[0]:
                current = ResolvedRunConfig.__dict__["build"]
                stock = getattr(current.__func__, "polster_stock", current)
                ResolvedRunConfig.build = stock  # type: ignore[method-assign]
