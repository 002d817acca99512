"""The task a Polster Celery worker runs for each step.

dagster-celery's ``execute_plan`` task, under the same name, with the same arguments and the
same result (the step's events, serialised), so dagster-celery's executor submits to it and
reads it unchanged. The difference is what a worker keeps between tasks: dagster-celery's task
opens the Dagster instance and builds the run's whole execution plan again for every step
(about 0.2 s on a 93-asset project); this one keeps the instance for as long as the worker
lives, and the run it last read (its config and tags do not change while it runs: reading it
again cost about 4 ms a step), and runs the step through :func:`polster_core.pool.run_step`,
the call Polster's own worker pool (``--workers N``) makes, which builds the run's plan once
per worker.
"""

from __future__ import annotations

from typing import Any

from dagster import DagsterInstance
from dagster_celery.executor import CeleryExecutor

from . import dagster_private as private

# The instances this worker opened, by the reference a run sent (one per project, in practice).
_INSTANCES: list[tuple[Any, DagsterInstance]] = []


def _instance(ref: Any) -> DagsterInstance:
    for known, instance in _INSTANCES:
        if known == ref:
            return instance
    instance = DagsterInstance.from_ref(ref)
    _INSTANCES.append((ref, instance))
    return instance


# The run this worker last ran a step of: (instance, run id, run).
_RUN: list[tuple[DagsterInstance, str, Any]] = []


def _run(instance: DagsterInstance, run_id: str) -> Any:
    if _RUN and _RUN[0][0] is instance and _RUN[0][1] == run_id:
        return _RUN[0][2]
    run = instance.get_run_by_id(run_id)
    if run is not None:
        _RUN[:] = [(instance, run_id, run)]
    return run


def create_task(celery_app, **task_kwargs):
    """Register Polster's ``execute_plan`` task on ``celery_app`` (what
    ``dagster_celery.tasks.create_task`` does for dagster-celery's), or dagster-celery's own
    task where this Dagster's internals differ from the ones it uses (dagster_private.py)."""
    if not private.AVAILABLE:
        return private.stock_create_task(celery_app, **task_kwargs)
    from polster_core.pool import run_step

    ExecuteStepArgs, ReconstructableJob = private.ExecuteStepArgs, private.ReconstructableJob
    DELEGATE_MARKER, EngineEventData = private.DELEGATE_MARKER, private.EngineEventData
    serialize_value, unpack_value = private.serialize_value, private.unpack_value

    @celery_app.task(bind=True, name=private.TASK_EXECUTE_PLAN_NAME, **task_kwargs)
    def _execute_plan(self, execute_step_args_packed, executable_dict):
        args = unpack_value(execute_step_args_packed, as_type=ExecuteStepArgs)
        instance = _instance(args.instance_ref)
        recon_job = ReconstructableJob.from_dict(executable_dict)
        run = _run(instance, args.run_id)
        if run is None:
            raise RuntimeError(f"run {args.run_id} is not in this worker's Dagster history")
        if run.is_finished:
            # A step queued by a run that has ended since (e.g. it stopped because no worker
            # answered, and this worker started later): nobody waits for it, nothing is run.
            return []
        keys = list(args.step_keys_to_execute or [])
        events = [
            instance.report_engine_event(
                f"Executing steps {', '.join(keys)} in celery worker",
                run,
                EngineEventData(
                    {"step_keys": ", ".join(keys), "Celery worker": self.request.hostname},
                    marker_end=DELEGATE_MARKER,
                ),
                CeleryExecutor,
                step_key=keys[0] if len(keys) == 1 else None,
            )
        ]
        for key in keys:
            events.extend(
                run_step(instance, recon_job, run, key, args.known_state, args.retry_mode)
            )
        return [serialize_value(event) for event in events]

    return _execute_plan
