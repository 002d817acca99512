"""What the run's process sends and reads for each step, with a real Redis (``redis-server``
started by the tests, stopped by PID): the message of a step (dagster-celery's task, arguments
and routing, with a short description in its headers), the steps' results read in one MGET per
look, and what a worker keeps between steps."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import uuid

from celery_fixtures import copy_project, run_pipeline, start_run

from polster_core.testing.projects import init_project, set_env
from polster_core.testing.services import REDIS_PASSWORD


def _client(url: str):
    import redis

    return redis.Redis.from_url(url)


def _calls(client) -> dict[str, int]:
    """Redis commands the server ran since its statistics were reset, by name."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


def test_the_board_reads_every_waiting_step_in_one_mget_as_celery_would(redis_url):
    from celery import Celery
    from celery.result import AsyncResult
    from polster_celery.executor import TICK, ResultBoard

    app = Celery("board-test", broker=redis_url, backend=redis_url)
    backend = app.backend
    done, started, failed, queued = (str(uuid.uuid4()) for _ in range(4))
    backend.store_result(done, ["event-1", "event-2"], "SUCCESS")
    backend.store_result(started, {"hostname": "polster-w@host", "pid": 7}, "STARTED")
    backend.store_result(failed, ValueError("boom"), "FAILURE")
    board = ResultBoard.for_backend(backend)
    assert board is not None
    board.pending.update([done, started, failed, queued])
    client = _client(redis_url)
    client.config_resetstat()
    seen = {task: board.state(task) for task in (done, started, failed, queued)}
    calls = _calls(client)
    assert calls.get("mget") == 1 and "get" not in calls, calls
    # What Celery itself reads for each, one GET at a time.
    for task, (state, _) in seen.items():
        assert state == AsyncResult(task, app=app).state
    assert seen[done] == ("SUCCESS", ["event-1", "event-2"])
    assert seen[started][1]["hostname"] == "polster-w@host"
    assert seen[queued] == ("PENDING", None)
    # A step finished is no longer read; the next look (a tick later) reads the others again.
    board.done(done)
    time.sleep(TICK)
    client.config_resetstat()
    assert board.state(started)[0] == "STARTED"
    assert board.state(queued)[0] == "PENDING"
    assert _calls(client).get("mget") == 1
    # Results that come as messages (RabbitMQ's rpc://) are read as dagster-celery reads them.
    assert ResultBoard.for_backend(Celery("rpc", backend="rpc://").backend) is None


def test_a_step_message_is_dagster_celerys_with_a_short_description(redis_url, tmp_path):
    """The run's process alone (no worker): the first step's message waits in the queue."""
    from dagster._grpc.types import ExecuteStepArgs
    from dagster._serdes import unpack_value
    from dagster_celery.config import TASK_EXECUTE_PLAN_NAME

    project = init_project(tmp_path, "local", name="messages")
    set_env(project, CELERY_BROKER_URL=redis_url, POLSTER_SHARED_DISK="true")
    client = _client(redis_url)

    def queued() -> list[bytes]:
        # The queue "dagster", one Redis list per priority step ("dagster\x06\x16N").
        keys = [k for k in client.keys("dagster*") if client.type(k) == b"list"]
        return [m for k in keys for m in client.lrange(k, 0, -1)]

    for key in client.keys("dagster*"):
        client.delete(key)
    run = start_run(
        project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while not queued() and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        messages = queued()
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        errors = run.communicate()[1].decode()
        for key in client.keys("dagster*"):
            client.delete(key)
    assert len(messages) == 1, errors  # the one step that can start: bronze
    raw = messages[0]
    message = json.loads(raw)
    headers = message["headers"]
    assert headers["task"] == TASK_EXECUTE_PLAN_NAME
    assert headers["argsrepr"] == "()"
    described = headers["kwargsrepr"]
    assert "'step': 'run_bronze_example'" in described and len(described) < 200
    assert REDIS_PASSWORD not in raw.decode()
    _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    args = unpack_value(kwargs["execute_step_args_packed"], as_type=ExecuteStepArgs)
    assert args.step_keys_to_execute == ["run_bronze_example"]
    assert f"'run_id': '{args.run_id}'" in described
    assert kwargs["executable_dict"]["__class__"] == "ReconstructablePipeline"  # its old name


def test_a_worker_reads_a_run_once_and_another_run_anew():
    import dagster as dg
    from polster_celery.tasks import _run

    @dg.asset
    def numbers() -> int:
        return 1

    with dg.DagsterInstance.ephemeral() as instance:
        first = dg.materialize([numbers], instance=instance).run_id
        second = dg.materialize([numbers], instance=instance).run_id
        run = _run(instance, first)
        assert run.run_id == first
        assert _run(instance, first) is run  # kept, not read again
        assert _run(instance, second).run_id == second
        again = _run(instance, first)
        assert again.run_id == first and again is not run  # read anew after another run
        assert _run(instance, "no-such-run") is None


def test_a_worker_whose_project_does_not_load_stops_with_one_line(redis_url, tmp_path):
    project = init_project(tmp_path, "local", name="broken")
    copy = copy_project(project, tmp_path / "worker-copy")
    asset = copy / "src/orchestration/assets/bronze/run_bronze_example.py"
    asset.write_text(asset.read_text() + "\nraise RuntimeError('half-edited asset')\n")
    started = time.monotonic()
    result = run_pipeline(copy, "--worker", "--executor", "celery", CELERY_BROKER_URL=redis_url)
    assert time.monotonic() - started < 120
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    # The line names the file and line of the project that raised (the last line, added above).
    where = f"{asset.relative_to(copy).as_posix()}:{len(asset.read_text().splitlines())}"
    assert lines == [
        f"error: the project's definitions failed to load: {where}: RuntimeError: half-edited "
        "asset: fix it there"
    ], result.stderr
    assert "waiting for steps" not in result.stdout
