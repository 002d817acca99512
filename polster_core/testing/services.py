"""Real services a run talks to, for tests: PostgreSQL (Dagster's run history) and the Celery
brokers Redis and RabbitMQ. Each fixture starts a server of its own on 127.0.0.1, on free
ports, under a temporary folder, with a password, for one test module, and stops it by PID.

From Debian's packages (``postgresql``, ``redis-server``, ``rabbitmq-server``; Polster's
``scripts/tools.sh`` installs them). Without the package (or when RabbitMQ cannot start here)
the test skips with the reason, and fails under ``CI=true``
(:class:`~polster_core.testing.tools.ToolMissing`). The fixtures are Polster's pytest plugin's
(:mod:`polster_core.testing.pytest_plugin`): no conftest.py needed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from .servers import HOST, free_port
from .tools import ToolMissing

PG_PASSWORD = "pg-Secret-4711"


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ToolMissing("PostgreSQL is not installed: run scripts/tools.sh (apt: postgresql)")


@pytest.fixture(scope="module")
def postgres():
    """``postgresql://postgres:PG_PASSWORD@127.0.0.1:PORT/postgres`` of a PostgreSQL server of
    our own (Debian's ``postgresql``), on a free port, stopped at the end of the module."""
    bin_dir = pg_bin()
    # Not under pytest's root-only temp folder: the postgres user must reach it.
    home = Path(tempfile.mkdtemp(prefix="polster-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(home, "postgres")
    (home / "pw").write_text(PG_PASSWORD + "\n")
    if as_user:
        shutil.chown(home / "pw", "postgres")
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(home / "db"),
            "-A",
            "md5",
            "-U",
            "postgres",
            "--pwfile",
            str(home / "pw"),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(home / "db")]
    subprocess.run(
        [*ctl, "-o", options, "-l", str(home / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


# Celery brokers: Redis and RabbitMQ ------------------------------------------------------------

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
