"""A third-party backend on a real SFTP server (OpenSSH + paramiko through fsspec), as the
authors of issue 14 wrote one from docs/plugins.md: paramiko's file objects return ``None``
from ``write()``, absolute roots on a server with login directories, errors that name their
cause, and a server that accepts connections and never answers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from polster_core.errors import PolsterError
from polster_core.plugins import Plugins
from polster_core.remote import FileWriter, FsspecBackend, public_host
from polster_core.settings import Settings
from polster_core.storage import Storage
from polster_core.testing import StorageContract, table
from polster_core.testing.projects import clean_env, run_polster

from .helpers import install_target


@pytest.fixture(scope="module")
def sftp_site(tmp_path_factory) -> Path:
    """``uv pip install tests/plugins/polster_sftp`` into a directory of its own."""
    return install_target(tmp_path_factory, "polster_sftp")


@pytest.fixture
def sftp_plugins(sftp_site, monkeypatch) -> Plugins:
    monkeypatch.syspath_prepend(str(sftp_site))
    plugins = Plugins(autoload=True)
    assert plugins.storage_backend("sftp").plugin == "polster-sftp"
    return plugins


def sftp_env(server, remote: Path, tmp_path: Path, **env) -> dict[str, str]:
    return {
        "STORAGE_BACKEND": "sftp",
        "SFTP_HOST": "127.0.0.1",
        "SFTP_PORT": str(server.port),
        "SFTP_USER": server.user,
        "SFTP_KEY_FILE": server.key_file,
        "SFTP_BASE_PATH": str(remote),
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        **env,
    }


def sftp_storage(plugins, server, remote: Path, tmp_path: Path, **env) -> Storage:
    settings = Settings(tmp_path, "demo", sftp_env(server, remote, tmp_path, **env))
    return Storage(settings, plugins=plugins)


class TestSftpContract(StorageContract):
    @pytest.fixture
    def make_storage(self, tmp_path, sftp_plugins, sshd):  # noqa: F811
        remote = tmp_path / "remote"  # an absolute root: the tables land exactly there
        remote.mkdir()

        def make(**env):
            return sftp_storage(sftp_plugins, sshd, remote, tmp_path, **env)

        return make


# 1. File objects whose write() returns None ---------------------------------------------------


def test_paramiko_files_return_none_and_writes_work_anyway(tmp_path, sftp_plugins, sshd):  # noqa: F811
    storage = sftp_storage(sftp_plugins, sshd, tmp_path / "remote", tmp_path)
    fs = storage.backend.fs
    with fs.open(str(tmp_path / "probe"), "wb") as handle:
        assert handle.write(b"abc") is None  # what broke every write before issue 14
    for frame in (table(3_000), table(3_000).lazy()):
        result = storage.write(frame, "bronze", "events")
        assert result.rows == 3_000 and result.backend == "sftp"
        assert pl.read_parquet(tmp_path / "remote" / "bronze" / "events.parquet").equals(
            table(3_000)
        )


def test_an_error_of_the_file_object_is_named_with_its_full_cause(
    tmp_path,
    sftp_plugins,
    sshd,  # noqa: F811
    tiny_disk,  # noqa: F811
):
    """A full disk on the server: paramiko's write() raises; polars alone would report only
    its text. The one line names the exception; its traceback is the error's details."""
    storage = sftp_storage(sftp_plugins, sshd, tiny_disk, tmp_path, DISABLE_LOCAL_SAMPLE="true")
    storage.write(table(10), "bronze", "big")
    noise = pl.DataFrame({"h": pl.int_range(0, 1_000_000, eager=True).hash()})  # 8 MB
    with pytest.raises(PolsterError) as info:
        storage.write(noise, "bronze", "big")
    message = str(info.value)
    assert message.startswith("writing bronze/big to sftp at sftp://")
    assert "\n" not in message
    assert "OSError" in message or "IOError" in message or "SSHException" in message, message
    assert "'NoneType'" not in message
    assert "Traceback" in info.value.details and "paramiko" in info.value.details
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert storage.read("bronze", "big").equals(table(10))  # the previous version


def test_file_writer_counts_bytes_and_keeps_the_files_own_error():
    class Sink:
        def __init__(self):
            self.data = b""

        def write(self, data):
            self.data += bytes(data)  # returns None, like paramiko's files

        def flush(self):
            raise BrokenPipeError("the server went away")

    sink = Sink()
    writer = FileWriter(sink)
    assert writer.write(b"12345") == 5 and sink.data == b"12345"
    with pytest.raises(BrokenPipeError):
        writer.flush()
    assert isinstance(writer.error, BrokenPipeError)
    writer.finish()  # polars' writer thread may still call: refused, never concurrent
    with pytest.raises(ValueError):
        writer.write(b"late")
    assert sink.data == b"12345"


# 2. Absolute roots, URIs with their host ------------------------------------------------------


def test_absolute_roots_stay_absolute_and_uris_name_the_host(tmp_path, sftp_plugins, sshd):  # noqa: F811
    remote = tmp_path / "remote"
    storage = sftp_storage(sftp_plugins, sshd, remote, tmp_path)
    result = storage.write(table(5), "silver", "t")
    assert (remote / "silver" / "t.parquet").is_file()
    assert result.uri == f"sftp://{sshd.user}@127.0.0.1:{sshd.port}{remote}/silver/t.parquet"
    assert storage.read("silver", "t").equals(table(5))


def test_fsspec_backend_paths_and_uris():
    class Store(FsspecBackend):
        protocol = "sftp"

    assert Store("/srv/data/").path("bronze", "t") == "/srv/data/bronze/t.parquet"
    assert Store("/").path("bronze", "t") == "/bronze/t.parquet"
    assert Store("shop/data").path("bronze", "t") == "shop/data/bronze/t.parquet"
    assert Store("/srv", host="h:22").uri("bronze", "t") == "sftp://h:22/srv/bronze/t.parquet"
    # A relative root is relative to the login directory: /~/ in an sftp URI.
    relative = Store("shop/data", host="ann:pa55word@h:22").uri("bronze", "t")
    assert relative == "sftp://ann@h:22/~/shop/data/bronze/t.parquet"
    assert public_host("ann:pa55word@h") == "ann@h"
    assert Store("bucket/base").uri("bronze", "t") == "sftp://bucket/base/bronze/t.parquet"


# 9. A server that accepts connections and never answers --------------------------------------


def test_a_silent_server_is_reported_as_a_timeout_quickly_and_quietly(
    tmp_path,
    sftp_plugins,
    sshd,  # noqa: F811
    silent_server,  # noqa: F811
    capfd,
):
    env = {"SFTP_PORT": str(silent_server.port), "SFTP_CONNECT_TIMEOUT": "1.5"}
    storage = sftp_storage(sftp_plugins, sshd, tmp_path / "remote", tmp_path, **env)
    started = time.monotonic()
    with pytest.raises(PolsterError) as info:
        storage.write(table(5), "bronze", "t")
    elapsed = time.monotonic() - started
    where = f"{sshd.user}@127.0.0.1:{silent_server.port}"
    assert f"timed out after 1.5 s connecting to {where}" in str(info.value)
    assert "SSHException" not in str(info.value) and "No existing session" not in str(info.value)
    assert elapsed < 6, elapsed
    # What paramiko's transport thread logged is in the details, not on stderr.
    assert "Error reading SSH protocol banner" in info.value.details
    time.sleep(0.5)  # a library thread that prints late would print now
    assert "Traceback" not in capfd.readouterr().err


def test_the_connect_timeout_must_be_a_number(tmp_path, sftp_plugins, sshd):  # noqa: F811
    storage = sftp_storage(
        sftp_plugins, sshd, tmp_path / "remote", tmp_path, SFTP_CONNECT_TIMEOUT="soon"
    )
    with pytest.raises(PolsterError, match="SFTP_CONNECT_TIMEOUT must be a number of seconds"):
        _ = storage.backend


def test_run_polster_names_the_timeout_in_one_line_and_verbose_gives_the_cause(
    tmp_path,
    sftp_site,
    sshd,  # noqa: F811
    silent_server,  # noqa: F811
):
    env = clean_env(PYTHONPATH=str(sftp_site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    init = run_polster(
        "init", "shop", "--storage", "sftp", "--no-git", "--no-setup", cwd=tmp_path, env=env
    )
    assert init.returncode == 0, init.stderr
    project = tmp_path / "shop"
    settings = sftp_env(sshd, tmp_path / "remote", tmp_path, SFTP_PORT=str(silent_server.port))
    settings["SFTP_CONNECT_TIMEOUT"] = "1"
    settings.pop("LOCAL_DATA_DIR")
    env.update(settings)

    def run(*args):
        return subprocess.run(
            [sys.executable, "run_polster.py", "--select", "run_bronze_example", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    quiet = run()
    assert quiet.returncode == 1
    where = f"{sshd.user}@127.0.0.1:{silent_server.port}"
    assert "Traceback" not in quiet.stderr, quiet.stderr[:3000]
    (line,) = [line for line in quiet.stderr.splitlines() if line.strip()]
    assert line.startswith("error in run_bronze_example: writing bronze/example to sftp")
    assert f"timed out after 1 s connecting to {where}" in line

    verbose = run("--verbose")
    assert verbose.returncode == 1
    assert f"timed out after 1 s connecting to {where}" in verbose.stderr
    assert "Error reading SSH protocol banner" in verbose.stderr  # the full cause
