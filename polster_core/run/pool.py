"""Polster's worker pool: ``run_polster.py --workers N`` (the ``multiprocess`` executor).

Dagster's multiprocess executor starts a new Python process for every step, which imports
Dagster, polars and the project again (about 1 s each). Here N worker processes start once
per run, each with the project already loaded (forked from ``run_polster.py`` once it has
loaded the job, where the platform allows; spawned otherwise), and run step after step, as a
Celery worker does. A step runs through :func:`run_step`, the call dagster-celery's own
workers make (``create_execution_plan`` + ``execute_plan_iterator`` on the reconstructable
job and the run); the Celery plugin shares it.

The orchestrating side is a Dagster ``Executor``: it hands each ready step to an idle worker,
passes the worker's events on to Dagster's plan (which decides what runs next), and reports a
step whose worker died (killed, out of memory) as failed, then starts a new worker.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from multiprocessing.connection import wait
from typing import Any

import dagster as dg

# Dagster's private names, imported and checked by the step pool boundary, which imports this
# module only when they have the shape used here (see docs/dagster-upgrades.md).
from .dagster_private.step_pool import (
    ActiveExecution,
    DagsterEvent,
    EngineEventData,
    ExecutionPlan,
    Executor,
    InstanceConcurrencyContext,
    PlanOrchestrationContext,
    ResolvedRunConfig,
    RetryMode,
    SerializableErrorInfo,
    create_execution_plan,
    execute_plan_iterator,
    get_retries_config,
    resolved_once,
    serializable_error_info_from_exc_info,
)
from .pool_size import PER_CPU, bounded_size, machine_cpus  # noqa: F401  (their home until 0.2)

# Seconds the orchestrator waits for a worker's message before it checks for interrupts.
TICK = 0.05


def run_step(
    instance: Any,
    recon_job: Any,
    dagster_run: Any,
    step_key: str,
    known_state: Any = None,
    retry_mode: RetryMode = RetryMode.DISABLED,
    repository_load_data: Any = None,
) -> Iterator[DagsterEvent]:
    """Run one step of a run in this process, storing its events in ``instance``; yields them.

    What a dagster-celery worker does for a task (``_execute_plan``): the plan of that one
    step, executed against the run that the orchestrating process created.
    """
    with resolved_once():
        plan = _step_plan(recon_job, dagster_run, step_key, known_state, repository_load_data)
        yield from execute_plan_iterator(
            plan,
            recon_job,
            dagster_run,
            instance=instance,
            retry_mode=retry_mode,
            run_config=dagster_run.run_config,
        )


# The run's whole plan, built once per process and run: building it again for every step (what
# dagster-celery's workers do) costs about 0.1 s per step on a 93-asset job.
_PLANS: dict[str, tuple[Any, Any, ExecutionPlan]] = {}


def _whole_plan(recon_job: Any, run_config: Any, load_data: Any) -> tuple[Any, Any, ExecutionPlan]:
    """The job definition, resolved config and whole plan of a run of ``recon_job``."""
    job = recon_job.with_repository_load_data(load_data) if load_data else recon_job
    job_def = job.get_definition()
    config = ResolvedRunConfig.build(job_def, run_config)
    whole = create_execution_plan(recon_job, run_config, repository_load_data=load_data)
    return job_def, config, whole


# The whole plan of the run a pool worker was started for, built while the orchestrator
# creates that run: (reconstructable job, run config, _whole_plan's answer).
_PREPARED: list[tuple[Any, Any, tuple[Any, Any, ExecutionPlan]]] = []


def prepare(recon_job: Any, run_config: Any) -> None:
    """Build the plan of a coming run of ``recon_job`` with ``run_config`` now, ahead of its
    first step: :func:`run_step` takes it if the run is that one, and builds its own if not."""
    with resolved_once():
        _PREPARED[:] = [(recon_job, run_config, _whole_plan(recon_job, run_config, None))]


def _step_plan(
    recon_job: Any, dagster_run: Any, step_key: str, known_state: Any, load_data: Any
) -> ExecutionPlan:
    """The plan of ``step_key`` alone: the run's whole plan (cached), subset to that step, with
    the run's state so far; a step the whole plan does not know (one resolved from a dynamic
    output) gets a plan of its own, as dagster-celery builds it."""
    cached = _PLANS.get(dagster_run.run_id)
    if cached is None:
        prepared = _PREPARED.pop() if _PREPARED else None
        if prepared and not load_data and prepared[:2] == (recon_job, dagster_run.run_config):
            whole_plan = prepared[2]
        else:
            whole_plan = _whole_plan(recon_job, dagster_run.run_config, load_data)
        _PLANS.clear()  # one run at a time per worker
        cached = _PLANS[dagster_run.run_id] = whole_plan
    job_def, config, whole = cached
    if step_key in whole.step_dict_by_key:
        state = known_state if known_state is not None else whole.known_state
        return whole._replace(known_state=state).build_subset_plan([step_key], job_def, config)
    return create_execution_plan(
        recon_job,
        dagster_run.run_config,
        step_keys_to_execute=[step_key],
        known_state=known_state,
        repository_load_data=load_data,
    )


def _worker_main(conn: Any, instance_ref: Any = None, run: Any = None) -> None:
    """A worker: runs each step it receives, sends back its events, then ``None``. Given the
    run's instance and ``run`` (its reconstructable job and run config), it opens the one and
    plans the other at once, while the run is being created, not at its first step."""
    # Ctrl+C reaches the whole process group: the orchestrator decides what stops. The
    # orchestrator's note of the signals it received (a wakeup fd) is its own, not a worker's.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:  # not the main thread of the process: none was inherited
        pass
    instances: list[tuple[Any, Any]] = []  # (InstanceRef, its instance): one per run
    if instance_ref is not None:
        try:
            instances.append((instance_ref, dg.DagsterInstance.from_ref(instance_ref)))
        except Exception:  # opened again at the first step, which reports the failure
            pass
    if run is not None:
        try:
            prepare(*run)
        except Exception:  # planned again at the first step, which reports the failure
            _PREPARED.clear()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            break
        if task is None:
            break
        instance_ref, recon_job, run, step_key, known_state, retry_mode, load_data = task
        try:
            instance = next((i for ref, i in instances if ref == instance_ref), None)
            if instance is None:
                instance = dg.DagsterInstance.from_ref(instance_ref)
                instances.append((instance_ref, instance))
            for event in run_step(
                instance, recon_job, run, step_key, known_state, retry_mode, load_data
            ):
                conn.send(event)
        except BaseException:  # reported as the step's failure by the orchestrator
            conn.send(serializable_error_info_from_exc_info(sys.exc_info()))
        conn.send(None)
        sys.stdout.flush()
        sys.stderr.flush()
    for _, instance in instances:
        instance.dispose()
    os._exit(0)


def _context() -> Any:
    """Fork where it is safe and cheap (Linux: the worker starts with the project loaded)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class Worker:
    def __init__(self, context: Any, instance_ref: Any = None, run: Any = None):
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, instance_ref, run), daemon=True
        )
        self.process.start()
        child.close()
        self.step: str | None = None

    def stop(self, kill: bool = False) -> None:
        self.ask_to_stop(kill)
        self.join()

    def ask_to_stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass

    def join(self) -> None:
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class WorkerPool:
    """N worker processes; :func:`prefork` starts them before the run (fewer threads then)."""

    def __init__(self, size: int, instance_ref: Any = None, run: Any = None):
        self.context = _context()
        self.size = size
        self.workers = [Worker(self.context, instance_ref, run) for _ in range(size)]

    def replace(self, worker: Worker) -> Worker:
        worker.stop(kill=True)
        new = Worker(self.context)
        self.workers[self.workers.index(worker)] = new
        return new

    def close(self, wait: bool = True) -> None:
        """Stop the workers: all are asked first, so that they end side by side; without
        ``wait``, they are waited for by :func:`shutdown` (or the next pool), while the run
        reports its end."""
        for worker in self.workers:
            worker.ask_to_stop(kill=worker.step is not None)
        if wait:
            for worker in self.workers:
                worker.join()
        else:
            _STOPPING.extend(self.workers)
        self.workers = []


_PREFORKED: WorkerPool | None = None
_STOPPING: list[Worker] = []  # asked to stop, not waited for yet


def prefork(
    size: int, instance_ref: Any = None, recon_job: Any = None, run_config: Any = None
) -> None:
    """Start the pool's workers now: ``run_polster.py`` calls it once the job and the instance
    are loaded, so the workers start with the project imported, before its progress thread
    exists, and, while the run is being created, open the instance (``instance_ref``) and
    plan the run of ``recon_job`` with ``run_config``."""
    global _PREFORKED
    run = (recon_job, run_config) if recon_job is not None else None
    _PREFORKED = WorkerPool(size, instance_ref, run)


def _take_pool(size: int) -> tuple[WorkerPool, bool]:
    global _PREFORKED
    _reap()
    pool, _PREFORKED = _PREFORKED, None
    if pool is not None and pool.size == size:
        return pool, True
    if pool is not None:
        pool.close()
    return WorkerPool(size), False


def _reap() -> None:
    while _STOPPING:
        _STOPPING.pop().join()


def shutdown() -> None:
    """Wait for the workers of the last run to end, and stop pre-forked ones a run did not use
    (it failed before its steps began)."""
    global _PREFORKED
    if _PREFORKED is not None:
        _PREFORKED.close()
        _PREFORKED = None
    _reap()


class PoolExecutor(Executor):
    def __init__(self, retries: RetryMode, max_concurrent: int):
        self._retries = retries
        self._max_concurrent = max(1, max_concurrent)

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        recon_job = plan_context.reconstructable_job
        instance_ref = plan_context.instance.get_ref()
        run = plan_context.dagster_run
        retry_mode = self.retries.for_inner_plan()
        load_data = execution_plan.repository_load_data
        size, _ = bounded_size(self._max_concurrent, len(execution_plan.step_keys_to_execute))
        pool, _ = _take_pool(size)
        try:
            yield from self._loop(
                plan_context, execution_plan, pool, (instance_ref, recon_job, run, retry_mode)
            )
        finally:
            pool.close(wait=False)
        del load_data

    def _loop(self, plan_context, execution_plan, pool: WorkerPool, shared) -> Iterator:
        instance_ref, recon_job, run, retry_mode = shared
        with (
            InstanceConcurrencyContext(plan_context.instance, run) as concurrency,
            ActiveExecution(
                execution_plan,
                retry_mode=self.retries,
                max_concurrent=pool.size,
                instance_concurrency_context=concurrency,
            ) as active,
        ):
            stopping = False
            while (not stopping and not active.is_complete) or any(w.step for w in pool.workers):
                if active.check_for_interrupts() and not stopping:
                    stopping = True
                    active.mark_interrupted()
                    for worker in pool.workers:
                        if worker.step:
                            pool.replace(worker)
                    yield DagsterEvent.engine_event(
                        plan_context, "Polster's worker pool: interrupted", EngineEventData()
                    )
                    break
                idle = [w for w in pool.workers if w.step is None]
                if not stopping and idle:
                    steps = active.get_steps_to_execute(limit=len(idle))
                    yield from active.concurrency_event_iterator(plan_context)
                    for worker, step in zip(idle, steps, strict=False):
                        worker.step = step.key
                        worker.conn.send(
                            (
                                instance_ref,
                                recon_job,
                                run,
                                step.key,
                                active.get_known_state(),
                                retry_mode,
                                execution_plan.repository_load_data,
                            )
                        )
                busy = [w for w in pool.workers if w.step]
                ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], TICK))
                for worker in busy:
                    if worker.conn in ready:
                        yield from self._drain(plan_context, active, worker)
                    if worker.step and worker.process.sentinel in ready:
                        yield from self._crashed(plan_context, active, pool, worker)
                yield from active.plan_events_iterator(plan_context)

    def _drain(self, plan_context, active, worker: Worker) -> Iterator[DagsterEvent]:
        key = worker.step
        while worker.step and worker.conn.poll():
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                return  # the worker died: its sentinel says so next round
            if message is None:
                worker.step = None
                active.verify_complete(plan_context, key)
            elif isinstance(message, SerializableErrorInfo):
                step_context = plan_context.for_step(active.get_step_by_key(key))
                event = self.log_failure_or_retry_event_after_error(
                    step_context, message, active.get_known_state()
                )
                active.handle_event(event)
                yield event
            else:
                yield message
                active.handle_event(message)

    def _crashed(self, plan_context, active, pool: WorkerPool, worker: Worker) -> Iterator:
        yield from self._drain(plan_context, active, worker)
        key = worker.step
        if key is None:
            return
        worker.process.join(timeout=10)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
        error = SerializableErrorInfo(
            message=(
                f"the worker process running {key} stopped ({how}) before the step finished: "
                "its table was not replaced; run the pipeline again"
            ),
            stack=[],
            cls_name="WorkerCrashed",
        )
        step_context = plan_context.for_step(active.get_step_by_key(key))
        event = self.log_failure_or_retry_event_after_error(
            step_context, error, active.get_known_state()
        )
        active.handle_event(event)
        yield event
        worker.step = None
        active.verify_complete(plan_context, key)
        pool.replace(worker)


@dg.executor(
    name="polster_pool",
    config_schema={
        "max_concurrent": dg.Field(int, is_required=False, default_value=0),
        "retries": get_retries_config(),
    },
)
def pool_executor(init_context) -> PoolExecutor:
    """Polster's worker pool: steps run in ``max_concurrent`` long-lived processes."""
    config = init_context.executor_config
    return PoolExecutor(
        retries=RetryMode.from_config(config["retries"]) or RetryMode.DISABLED,
        max_concurrent=bounded_size(config["max_concurrent"])[0],
    )
