"""Real brokers for the celery executor's tests, and workers run from copies of a project.

Redis (``redis-server``) and RabbitMQ (``rabbitmq-server``, with its own ``epmd``) come from
Debian's packages (``scripts/tools.sh`` installs them); each fixture starts a server of its own
on free ports under a temporary folder, with a password, and stops it by PID. Without the
package (or when RabbitMQ cannot start here) the tests skip with the reason, and fail under
``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from polster_core.testing.tools import ToolMissing
from tests.assets_helpers import run_python
from tests.remote_pipeline import plugin_env
from tests.storage_servers import HOST, free_port

REDIS_PASSWORD = "redis-Secret-4711"
RABBIT_USER = "polster"
RABBIT_PASSWORD = "rmq-Secret-4711"
RABBIT_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def redis_server() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise ToolMissing("redis-server is not installed: run scripts/tools.sh (apt: redis-server)")
    return found


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """``redis://:PASSWORD@127.0.0.1:PORT/0`` of a server of our own."""
    server = redis_server()
    home = tmp_path_factory.mktemp("redis")
    port = free_port()
    pidfile = home / "pid"
    subprocess.run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            HOST,
            "--requirepass",
            REDIS_PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(home),
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(home / "log"),
        ],
        check=True,
        capture_output=True,
    )
    url = f"redis://:{REDIS_PASSWORD}@{HOST}:{port}/0"
    import redis

    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        if pidfile.exists():
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def rabbitmq_url(tmp_path_factory):
    """``amqp://polster:PASSWORD@127.0.0.1:PORT//`` of a RabbitMQ node of our own: a unique
    node name, its own epmd, AMQP and distribution ports, data and logs in a temp folder."""
    epmd = shutil.which("epmd")
    if not RABBIT_SERVER.exists() or not epmd:
        raise ToolMissing(
            "rabbitmq-server is not installed: run scripts/tools.sh (apt: rabbitmq-server)"
        )
    home = tmp_path_factory.mktemp("rabbitmq")
    port, dist_port, epmd_port = _free_ports(3)
    (home / "rabbitmq.conf").write_text(
        f"default_user = {RABBIT_USER}\n"
        f"default_pass = {RABBIT_PASSWORD}\n"
        f"listeners.tcp.default = {HOST}:{port}\n"
    )
    (home / "enabled_plugins").write_text("[].\n")
    (home / "rabbitmq-env.conf").write_text("")  # not the system's /etc/rabbitmq one
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # the Erlang cookie goes here
        "LANG": "C.UTF-8",
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_CONF_ENV_FILE": str(home / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_NODENAME": f"polster-test-{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_PID_FILE": str(home / "pid"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
    }
    log = open(home / "server.log", "w")  # noqa: SIM115 (open while the server runs)
    mapper = subprocess.Popen(
        [epmd, "-port", str(epmd_port), "-address", HOST],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The script passes SIGTERM on to the node and waits for it: stopping it stops the node.
    server = subprocess.Popen(
        [str(RABBIT_SERVER)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                tail = (home / "server.log").read_text()[-600:].strip()
                raise ToolMissing(f"RabbitMQ did not start here (exit {server.returncode}): {tail}")
            try:
                socket.create_connection((HOST, port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ToolMissing("RabbitMQ did not listen within 90 s here") from None
                time.sleep(0.25)
        yield f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{HOST}:{port}//"
    finally:
        _stop(server)
        _stop(mapper, timeout=10)
        log.close()


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
