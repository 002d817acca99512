"""The celery executor: dagster-celery's ``CeleryExecutor`` with its broker and result backend
from the environment (``.env``), a preflight that fails fast, and the worker.

dagster-celery's own ``celery_executor`` takes the broker's URL from the run config, which
Dagster stores in the run's history; this one reads it from ``CELERY_BROKER_URL`` in each
process, so a password in it is never recorded. Its worker (``run_polster.py --worker``) is
``celery -A dagster_celery.app worker`` run in this process with the same broker: no config
file with the URL is written to disk, as ``dagster-celery worker start`` would.

A worker that dies in the middle of a step (SIGKILL, out of memory, its machine gone) never
reports back, and dagster-celery's loop would wait for that step forever. Here each step's
result is watched: workers record that they started a step (``task_track_started``), and the
run pings the worker running it; one that has not answered for ``LOST_AFTER`` seconds fails
that step (a step failure in the run's history, like any other), so the run ends and a rerun
starts it afresh. A step whose task fails in the worker outside the step (a pool process
killed: Celery's ``WorkerLostError``) fails the same way.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg

from . import dagster_private as private
from .dagster_private import RetryMode, get_retries_config, multiple_process_executor_requirements
from .names import BACKEND_ENV, BROKER_ENV, SHARED_DISK_ENV, WAIT_ENV, WORKER_WAIT

# Seconds the preflight waits for the broker.
BROKER_TIMEOUT = 3.0
TRUE = ("1", "true", "yes", "on")
# Seconds between two looks of the run at its steps' results (dagster-celery's: 1).
TICK = 0.05
# A worker running a step is pinged every CHECK_EVERY seconds (each ping waits PING_TIMEOUT);
# one that has not answered for LOST_AFTER seconds is lost, and its step failed.
CHECK_EVERY = 5.0
PING_TIMEOUT = 2.0
LOST_AFTER = 20.0
# Celery settings of the run and of the workers: a worker records which step it started.
CONFIG = {"task_track_started": True}


AMQP = ("amqp", "amqps", "pyamqp", "librabbitmq")


def broker_urls(settings: Mapping[str, str]) -> tuple[str, str]:
    """The broker and the result backend: ``CELERY_RESULT_BACKEND``, or else the broker itself
    (Redis), or for a RabbitMQ broker ``rpc://`` (results sent back over the broker as
    messages: Celery 5 has no ``amqp://`` result backend)."""
    broker = (settings.get(BROKER_ENV) or "").strip()
    backend = (settings.get(BACKEND_ENV) or "").strip()
    if not backend:
        backend = "rpc://" if _scheme(broker) in AMQP else broker
    return broker, backend


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:  # reported by broker_problem
        return ""


def scheme_problem(broker: str, backend: str) -> str | None:
    """Why Celery would not know the broker's or the result backend's scheme (one line, with
    the schemes it knows), or ``None``. Celery takes an unknown scheme for the name of a Python
    module and fails only when the run submits its first step."""
    from celery.app.backends import BACKEND_ALIASES
    from kombu.transport import TRANSPORT_ALIASES

    for env, url, known in (
        (BROKER_ENV, broker, TRANSPORT_ALIASES),
        (BACKEND_ENV, backend, BACKEND_ALIASES),
    ):
        if not url:
            continue
        if "://" not in url:
            return (
                f"{env} is not a URL ({_mask(url)}): write it as scheme://host:port/..., "
                "e.g. redis://127.0.0.1:6379/0"
            )
        # kombu and Celery take "transport+url" (e.g. sqla+postgresql://, db+sqlite://).
        scheme = url.split("://", 1)[0].split("+", 1)[0]
        if scheme in known or scheme.lower() in known:
            continue
        import difflib

        names = sorted({name.lower() for name in known})
        close = difflib.get_close_matches(scheme.lower(), names, n=1)
        hint = f" (did you mean {close[0]}://?)" if close else ""
        return (
            f"{env} has a scheme Celery does not know, '{_one_line(scheme)}'{hint}: use one of "
            f"{', '.join(names)}"
        )
    return None


def worker_wait(settings: Mapping[str, str]) -> float:
    """Seconds a run waits for a worker while its steps are queued (``WAIT_ENV``; 0: forever).
    Raises ``ValueError`` with the line to show for a value that is not a number."""
    text = (settings.get(WAIT_ENV) or "").strip()
    if not text:
        return float(WORKER_WAIT)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ValueError(
            f"{WAIT_ENV} must be a number of seconds, 0 or more (0: wait for a worker "
            f"forever), not '{_one_line(text)}'"
        )
    return value


def _one_line(text: str) -> str:
    from polster_core.errors import one_line

    return one_line(text)


@dg.executor(
    name="celery",
    config_schema={"retries": get_retries_config()},
    requirements=multiple_process_executor_requirements(),
)
def celery_executor(init_context):
    """Steps on Celery workers; broker and result backend from ``CELERY_BROKER_URL`` and
    ``CELERY_RESULT_BACKEND`` (default: the broker; ``rpc://`` for RabbitMQ)."""
    broker, backend = broker_urls(os.environ)
    return _executor_class()(
        retries=RetryMode.from_config(init_context.executor_config["retries"]),
        broker=broker or None,
        backend=backend or None,
        config_source=CONFIG,
    )


def _executor_class():
    from dagster_celery.executor import CeleryExecutor

    if not private.AVAILABLE:  # dagster-celery's own loop (dagster_private.py)
        return CeleryExecutor
    core_celery_execution_loop = private.core_celery_execution_loop

    class WatchedCeleryExecutor(CeleryExecutor):
        """dagster-celery's executor whose steps fail, rather than hang the run, when the
        worker running them is lost."""

        def execute(self, plan_context, execution_plan):
            watch = WorkerWatch(worker_wait(os.environ))
            submitter = Submitter(plan_context)

            def submit(app, context, step, queue, priority, known_state):
                result = submitter.submit(app, step, queue, priority, known_state)
                board = submitter.board
                if board is not None:
                    board.pending.add(result.id)
                watch.results.append(result)
                return WatchedResult(result, app, watch, self, context, step, known_state, board)

            # dagster-celery's loop looks for finished steps and submits the next ones once a
            # second: a second of waiting per level of the asset graph, more than a small
            # step's own time. This run's loop looks every TICK.
            loop = core_celery_execution_loop(
                plan_context, execution_plan, step_execution_fn=submit
            )
            return private.quick_ticks(loop, TICK)

    return WatchedCeleryExecutor


class Submitter:
    """dagster-celery's ``_submit_task``: the same task, arguments and routing, so its workers
    and Polster's take the same messages. What does not change during a run (the job's origin,
    the instance's reference) is built once, not for each step, and the message's headers carry
    a short description of the step instead of Celery's ``saferepr`` of the whole packed
    arguments (which grow with the run's known state): together about 2 ms a step.
    dagster-celery's loop makes one Celery app per run: its task and its result board (see
    :class:`ResultBoard`) are made at the first step."""

    def __init__(self, plan_context) -> None:
        job = plan_context.reconstructable_job
        self.origin = job.get_python_origin()
        self.executable = job.to_dict()
        self.run_id = plan_context.dagster_run.run_id
        self.instance_ref = plan_context.instance.get_ref()
        self.retry_mode = plan_context.executor.retries.for_inner_plan()
        self.task = None
        self.board: ResultBoard | None = None

    def submit(self, app, step, queue, priority, known_state):
        from .dagster_private import ExecuteStepArgs, pack_value
        from .tasks import create_task

        if self.task is None:
            self.task = create_task(app)
            self.board = ResultBoard.for_backend(app.backend)
        args = ExecuteStepArgs(
            job_origin=self.origin,
            run_id=self.run_id,
            step_keys_to_execute=[step.key],
            instance_ref=self.instance_ref,
            retry_mode=self.retry_mode,
            known_state=known_state,
            print_serialized_events=True,  # as dagster-celery sets it (no task reads it)
        )
        signature = self.task.si(  # type: ignore[attr-defined]
            execute_step_args_packed=pack_value(args), executable_dict=self.executable
        )
        return signature.apply_async(
            priority=priority,
            queue=queue,
            routing_key=f"{queue}.execute_plan",
            argsrepr="()",
            kwargsrepr=repr({"run_id": self.run_id, "step": step.key}),
        )


class ResultBoard:
    """The state of every step the run is waiting for, read once per look of the run (every
    ``TICK``) with one ``MGET`` from a key-value result backend (Redis). dagster-celery's loop
    asks each pending result on its own, a round trip each (and the lost-worker watch two more):
    with a few dozen steps queued that was most of the running process's time."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.pending: set[str] = set()
        self.metas: dict[str, dict] = {}
        self.read_at = float("-inf")

    @classmethod
    def for_backend(cls, backend) -> ResultBoard | None:
        """A board for a key-value backend; ``None`` for others (``rpc://``: results arrive
        as messages, and each result is asked as dagster-celery does)."""
        from celery.backends.base import BaseKeyValueStoreBackend

        if not isinstance(backend, BaseKeyValueStoreBackend):
            return None
        # A key-value backend that cannot read many keys at once keeps Celery's own reads.
        return cls(backend) if type(backend).mget is not BaseKeyValueStoreBackend.mget else None

    def state(self, task_id: str) -> tuple[str, object]:
        """``task_id``'s state and info (for a started task, the worker that took it) as of
        this look; the first question of a look reads them all."""
        now = time.monotonic()
        if now - self.read_at >= TICK / 2:
            self.read_at = now
            ids = sorted(self.pending)
            keys = [self.backend.get_key_for_task(i) for i in ids]
            values = self.backend.mget(keys) if keys else []
            found = zip(ids, values, strict=True)
            self.metas = {i: self.backend.decode_result(v) for i, v in found if v}
        meta = self.metas.get(task_id)
        if meta is None:
            return "PENDING", None
        return str(meta.get("status")), meta.get("result")

    def done(self, task_id: str) -> None:
        self.pending.discard(task_id)
        self.metas.pop(task_id, None)


class WorkerWatch:
    """When each worker running one of the run's steps last answered a ping, and when any
    worker last showed it is there (a step started or done, an answer to a ping)."""

    def __init__(self, wait: float = WORKER_WAIT) -> None:
        self.answered: dict[str, float] = {}
        self.asked: dict[str, float] = {}
        self.wait = wait
        self.heard: float | None = None
        self.called: float | None = None
        self.results: list = []

    def heard_from_a_worker(self) -> None:
        self.heard = time.monotonic()

    def unattended(self, app) -> bool:
        """Whether steps are queued and no worker has answered for ``wait`` seconds (never
        with ``wait`` 0). Workers are pinged every ``CHECK_EVERY`` seconds of silence."""
        if not self.wait:
            return False
        now = time.monotonic()
        if self.heard is None:
            self.heard = self.called = now
        every = min(CHECK_EVERY, self.wait)
        if now - self.heard >= every and now - (self.called or 0.0) >= every:
            self.called = now
            try:
                answered = bool(app.control.ping(timeout=PING_TIMEOUT, limit=1))
            except Exception:  # the broker is briefly away: not the workers' fault
                answered = True
            if answered:
                self.heard = time.monotonic()
        return time.monotonic() - self.heard >= self.wait

    def give_up(self, broker: str):
        """Take the run's queued steps back and say why the run stops (a PolsterError)."""
        from polster_core.errors import PolsterError

        for result in self.results:
            try:
                result.revoke()
            except Exception:  # the steps of a failed run are skipped by workers anyway
                pass
        return PolsterError(
            f"no Celery worker answered within {self.wait:g} s at {_mask(broker)}, so no step "
            "ran: start one with `python run_polster.py --worker --executor celery` in a copy "
            f"of the project (same .env), then run again; or set {WAIT_ENV} (seconds to wait, "
            "0: forever)"
        )

    def lost(self, app, result, state: str | None = None, info: object = None) -> str | None:
        """The name of the worker running ``result``'s step if it is lost, else ``None``;
        ``state`` and ``info`` as just read, or ``None`` to ask the result backend."""
        if state is None:
            try:
                state, info = result.state, result.info
            except Exception:  # the result backend did not answer: ask again next tick
                return None
        if state != "STARTED" or not isinstance(info, dict) or not info.get("hostname"):
            return None  # still queued (no worker has it yet), or done
        host = str(info["hostname"])
        now = time.monotonic()
        self.heard = now
        self.answered.setdefault(host, now)
        if now - self.asked.get(host, 0.0) >= CHECK_EVERY:
            self.asked[host] = now
            try:
                if app.control.ping(destination=[host], timeout=PING_TIMEOUT, limit=1):
                    self.answered[host] = time.monotonic()
            except Exception:  # the broker is briefly away: not the worker's fault
                self.answered[host] = time.monotonic()
        return host if time.monotonic() - self.answered[host] > LOST_AFTER else None


class WatchedResult:
    """A step's Celery result as dagster-celery's loop uses it (``ready``, ``get``,
    ``revoke``), which is ready with a step failure when its worker is lost or its task
    failed outside the step."""

    def __init__(
        self, result, app, watch, executor, context, step, known_state, board=None
    ) -> None:
        self.result, self.app, self.watch, self.board = result, app, watch, board
        self.executor, self.context, self.step, self.known_state = (
            executor,
            context,
            step,
            known_state,
        )
        self.lost: str | None = None

    def ready(self) -> bool:
        from celery import states

        state = info = None
        if self.board is None:
            if self.result.ready():
                self.watch.heard_from_a_worker()
                return True
        else:
            state, info = self.board.state(self.result.id)
            # Done: Celery's own look (one read) keeps the result for ``get``.
            if state in states.READY_STATES and self.result.ready():
                self.watch.heard_from_a_worker()
                self.board.done(self.result.id)
                return True
        self.lost = self.watch.lost(self.app, self.result, state, info)
        if self.lost is None:
            if self.watch.unattended(self.app):
                raise self.watch.give_up(broker_urls(os.environ)[0])
            return False
        if self.result.ready():
            self.lost = None  # it finished while the worker was asked after all
        if self.board is not None:
            self.board.done(self.result.id)
        return True

    def revoke(self, *args, **kwargs):
        return self.result.revoke(*args, **kwargs)

    def get(self):
        from celery.exceptions import TaskRevokedError

        from .dagster_private import (
            SerializableErrorInfo,
            serializable_error_info_from_exc_info,
            serialize_value,
        )

        if self.lost is None:
            try:
                return self.result.get()
            except TaskRevokedError:
                raise  # dagster-celery's loop reports it
            except Exception:
                error = serializable_error_info_from_exc_info(sys.exc_info())
        else:
            error = SerializableErrorInfo(
                message=(
                    f"the Celery worker running this step ({self.lost}) stopped answering for "
                    f"{LOST_AFTER:.0f}s (killed, or its machine is down) before the step "
                    "finished: its table was not replaced; run the pipeline again"
                ),
                stack=[],
                cls_name="WorkerLost",
            )
        event = self.executor.log_failure_or_retry_event_after_error(
            self.context.for_step(self.step), error, self.known_state
        )
        return [serialize_value(event)]


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
    broker, backend = broker_urls(settings)
    if not broker:
        return (
            f"{BROKER_ENV} is not set: set it in .env to your Celery broker, e.g. "
            "redis://127.0.0.1:6379/0"
        )
    try:
        worker_wait(settings)
    except ValueError as exc:
        return str(exc)
    return scheme_problem(broker, backend) or broker_problem(broker)


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
        elif scheme in AMQP:
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
    problem = scheme_problem(broker, backend) or broker_problem(broker)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    from dagster_celery.executor import CeleryExecutor

    from .dagster_private import make_app
    from .tasks import create_task

    app = make_app(
        CeleryExecutor.for_cli(broker=broker, backend=backend, config_source=CONFIG).app_args()
    )
    if _scheme(broker) in ("redis", "rediss"):
        # Take a step only when a process is free: a busy worker holds no queued step back
        # from idle ones, and a killed worker takes no queued step down with it.
        app.conf.worker_disable_prefetch = True
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
