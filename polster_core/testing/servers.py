"""Real servers for tests, started by the test on 127.0.0.1 on free ports and stopped by PID.

Polster's pytest plugin (:mod:`polster_core.testing.pytest_plugin`, entry point ``pytest11``)
makes these fixtures available wherever polster is installed, in a plugin author's suite as
in Polster's own; no conftest.py is needed:

- ``moto`` (S3) and ``azurite`` (Azure Blob), one per session; ``moto_factory`` and
  ``azurite_factory`` start one of a test's own (to stop it mid-run);
- ``sshd`` (OpenSSH with SFTP), one per session; ``silent_server``: a port that accepts
  connections and never answers;
- in :mod:`.services`: ``postgres`` (a URL), ``redis_url`` and ``rabbitmq_url``, one per
  test module.

Each server runs in its own process group and is stopped by its PID. A server whose program
is missing raises :class:`~polster_core.testing.tools.ToolMissing`: the test skips with the
reason on a developer's machine and fails under ``CI=true``. Azurite comes from npm
(``npm install -g azurite``; Polster's ``scripts/dev-env.sh`` installs it under
``.ci/node_modules``), moto from PyPI (``moto[server]``), sshd, PostgreSQL, Redis and
RabbitMQ from Debian's packages (``openssh-server``, ``postgresql``, ``redis-server``,
``rabbitmq-server``).

The ``start_*`` functions start a server outside pytest (benchmarks, scripts); the caller
stops it with ``server.stop()``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .tools import ToolMissing

# A checkout of Polster (editable install): its dev environment installs Azurite here.
REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
# The Azure Storage emulator's published development account: public, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
MOTO_KEY_ID = "AKIAPOLSTERTEST00001"
MOTO_SECRET = "polster-moto-secret-do-not-print-0123456789"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout}s")


def azurite_command() -> str | None:
    found = shutil.which("azurite-blob")
    if found:
        return found
    local = REPO / ".ci" / "node_modules" / ".bin" / "azurite-blob"
    return str(local) if local.exists() else None


def moto_command() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


def missing(tool: str, how: str):
    raise ToolMissing(f"{tool} is not installed: {how}")


@dataclass
class Server:
    """A server process; ``stop()`` kills it (and only it) by its PID."""

    kind: str
    port: int
    process: subprocess.Popen
    location: Path | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self) -> None:
        """Start the same server again on the same port (and, for Azurite, the same data)."""
        self.stop()
        self.process = _spawn(self.argv, self.env)
        wait_for_port(self.port, self.process)


def _spawn(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=None if env is None else {**os.environ, **env},
    )


@dataclass
class Azurite(Server):
    account: str = AZURITE_ACCOUNT
    key: str = field(default=AZURITE_KEY, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};"
            f"AccountKey={self.key};BlobEndpoint={self.endpoint};"
        )

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def create_container(self, name: str) -> str:
        from azure.core.exceptions import ResourceExistsError

        try:
            self.service().create_container(name)
        except ResourceExistsError:
            pass
        return name

    def blob_names(self, container: str, prefix: str = "") -> list[str]:
        client = self.service().get_container_client(container)
        return sorted(blob.name for blob in client.list_blobs(name_starts_with=prefix or None))

    def uncommitted_blocks(self, container: str, blob: str) -> int:
        client = self.service().get_blob_client(container, blob)
        try:
            _, uncommitted = client.get_block_list("uncommitted")
        except Exception:  # the blob may not exist yet
            return 0
        return len(uncommitted)

    def sas_token(self, container: str) -> str:
        """A container SAS (read, add, create, write, delete, list) valid for an hour."""

        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        return generate_container_sas(
            self.account,
            container,
            account_key=self.key,
            permission=ContainerSasPermissions(
                read=True, add=True, create=True, write=True, delete=True, list=True
            ),
            expiry=datetime.now(timezone.utc) + timedelta(hours=1),
        )


@dataclass
class Moto(Server):
    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=MOTO_KEY_ID,
            aws_secret_access_key=MOTO_SECRET,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> str:
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def multipart_uploads(self, bucket: str) -> int:
        return len(self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()


def start_azurite(
    location: Path | None = None, account: str | None = None, key: str | None = None
) -> Azurite:
    """Azurite on a free port; with ``account`` and ``key``, that account replaces the public
    development account (Azurite's ``AZURITE_ACCOUNTS``), so a test can use a key of its own."""
    command = azurite_command()
    if command is None:
        missing("Azurite", "run `bash scripts/dev-env.sh` (it installs the npm package)")
    location = Path(location or tempfile.mkdtemp(prefix="azurite-"))
    port = free_port()
    argv = [
        command,
        "--blobHost",
        HOST,
        "--blobPort",
        str(port),
        "--location",
        str(location),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
    ]
    env = {"AZURITE_ACCOUNTS": f"{account}:{key}"} if account and key else None
    process = _spawn(argv, env)
    server = Azurite("azurite", port, process, location, argv, env)
    if env:
        server.account, server.key = account, key
    try:
        wait_for_port(port, process)
    except RuntimeError:
        server.stop()
        raise
    return server


def start_moto(env: dict[str, str] | None = None) -> Moto:
    """A moto S3 server; ``env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}`` makes it check keys."""
    command = moto_command()
    if command is None:
        missing("moto", "run `bash scripts/dev-env.sh` (the dev dependency group has it)")
    port = free_port()
    argv = [command, "-H", HOST, "-p", str(port)]
    process = _spawn(argv, env)
    server = Moto("moto", port, process, None, argv, env)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto():
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def azurite_factory(tmp_path):
    started: list[Server] = []

    def start() -> Azurite:
        server = start_azurite(tmp_path / f"azurite-{len(started)}")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def moto_factory():
    started: list[Server] = []

    def start() -> Moto:
        server = start_moto()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# OpenSSH ----------------------------------------------------------------------------------------

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd(Server):
    """An sshd of the test's own: its host key, one authorized client key, SFTP enabled."""

    user: str = ""
    key_file: str = ""

    @property
    def host(self) -> str:
        return f"{HOST}:{self.port}"


def start_sshd(location: Path) -> Sshd:
    """sshd on a free port, logging in ``getpass.getuser()`` with a key made here."""
    import getpass

    command = SSHD if os.access(SSHD, os.X_OK) else shutil.which("sshd")
    keygen = shutil.which("ssh-keygen")
    if command is None or keygen is None:
        missing("OpenSSH's sshd", "apt-get install -y openssh-server (.ci/run does)")
    location.mkdir(parents=True, exist_ok=True)
    for key in ("host", "client"):
        if not (location / key).exists():
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(location / key)], check=True
            )
    shutil.copy(location / "client.pub", location / "authorized_keys")
    if os.geteuid() == 0:  # sshd run by root insists on its privilege separation directory
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    port = free_port()
    config = location / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress {HOST}\nHostKey {location / 'host'}\n"
        f"AuthorizedKeysFile {location / 'authorized_keys'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPidFile none\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n",
        encoding="utf-8",
    )
    check = subprocess.run([command, "-t", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        missing("a usable sshd", check.stderr.strip() or check.stdout.strip())
    argv = [command, "-D", "-f", str(config)]
    server = Sshd("sshd", port, _spawn(argv), location, argv)
    server.user, server.key_file = getpass.getuser(), str(location / "client")
    try:
        wait_for_port(port, server.process)
    except RuntimeError:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


# A server that accepts connections and never says a word (a hung or firewalled service).
SILENT = """
import socket, sys, time

listener = socket.socket()
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen(16)
held = []
while True:
    held.append(listener.accept()[0])
"""


@pytest.fixture
def silent_server():
    port = free_port()
    argv = [sys.executable, "-c", SILENT, str(port)]
    server = Server("silent", port, _spawn(argv), None, argv)
    try:
        wait_for_port(port, server.process)
    except RuntimeError:
        server.stop()
        raise
    yield server
    server.stop()


# A TCP forwarder in a process of its own: a test stops it by its PID, and the store it fronts
# "goes away" for the pipeline while the real server keeps its state for the test to inspect.
PROXY = """
import asyncio, sys

listen, target = int(sys.argv[1]), int(sys.argv[2])


async def pipe(reader, writer):
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


asyncio.run(main())
"""


def start_proxy(target: Server) -> Server:
    """A forwarder from a free port to ``target``'s port; ``stop()`` makes the store vanish."""
    port = free_port()
    argv = [sys.executable, "-c", PROXY, str(port), str(target.port)]
    process = _spawn(argv)
    proxy = Server("proxy", port, process, None, argv)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        proxy.stop()
        raise
    return proxy
