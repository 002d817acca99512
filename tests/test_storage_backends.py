"""Storage: what every backend gets from the core, on local disk, a flaky test backend and a
third-party plugin package installed the way a user installs one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest

from polster_core.errors import PolsterError
from polster_core.plugins import Plugins
from polster_core.secrets import redact
from polster_core.settings import Settings
from polster_core.specs import Setting, StorageBackend
from polster_core.storage import LocalBackend, Storage
from polster_core.testing import StorageContract, table
from polster_core.testing.projects import BIN, clean_env, run_polster
from polster_core.testing.writes import kill_mid_write

HERE = Path(__file__).parent
TOKEN = "flaky-token-Zm9vYmFyYmF6cXV4"


# A backend whose writes fail on demand, with a secret that its errors print -----------------


class FlakyBackend(LocalBackend):
    name = "flaky"
    fail = False

    def write(self, frame, layer, name):
        if FlakyBackend.fail:
            raise OSError(f"connection reset by https://store.example/{layer}?sig={TOKEN}")
        super().write(frame, layer, name)

    def uri(self, layer, name):
        return f"flaky://{layer}/{name}.parquet"


class FlakyPlugin:
    from polster_core import hookimpl

    @hookimpl
    def polster_storage_backends(self, register):
        register(
            StorageBackend(
                name="flaky",
                description="fails when told to",
                factory=lambda settings: FlakyBackend(Path(settings.get("FLAKY_DIR"))),
                settings=(
                    Setting("FLAKY_DIR", "where it stores", required=True),
                    Setting("FLAKY_TOKEN", "its secret", secret=True),
                ),
            )
        )


@pytest.fixture
def flaky(tmp_path):
    plugins = Plugins(autoload=False)
    plugins.pm.register(FlakyPlugin(), name="flaky")
    FlakyBackend.fail = False

    def make(**env) -> Storage:
        base = {
            "STORAGE_BACKEND": "flaky",
            "FLAKY_DIR": str(tmp_path / "remote"),
            "FLAKY_TOKEN": TOKEN,
            "LOCAL_DATA_DIR": str(tmp_path / "data"),
        }
        return Storage(Settings(tmp_path, "demo", {**base, **env}), plugins=plugins)

    yield make
    FlakyBackend.fail = False


def storage_on(tmp_path, plugins=None, **env) -> Storage:
    return Storage(Settings(tmp_path, "demo", env), plugins=plugins or Plugins(autoload=False))


class TestLocalContract(StorageContract):
    @pytest.fixture
    def make_storage(self, tmp_path):
        def make(**env):
            return storage_on(tmp_path, LOCAL_DATA_DIR=str(tmp_path / "data"), **env)

        return make


# Selection and settings -----------------------------------------------------------------------


def test_unknown_backend_is_one_clear_line(tmp_path):
    with pytest.raises(PolsterError, match="unknown storage backend 'nope': choose one of local"):
        _ = storage_on(tmp_path, STORAGE_BACKEND="nope").backend


def test_a_known_backend_that_is_not_installed_names_the_package(tmp_path):
    # The installer that reaches this Python (uv's venv here: `uv pip install ... --python`).
    from polster_core.project.hints import install_command

    hint = install_command("polster-adls")
    assert "pip install polster-adls" in hint
    with pytest.raises(PolsterError, match=re.escape(f"run `{hint}`")):
        _ = storage_on(tmp_path, STORAGE_BACKEND="ADLS").backend


def test_missing_settings_are_named_never_their_values(flaky):
    with pytest.raises(PolsterError) as info:
        _ = flaky(FLAKY_DIR="").backend
    assert str(info.value) == "storage backend 'flaky' needs FLAKY_DIR: set it in .env"


def test_bad_flags_name_the_variable(flaky):
    storage = flaky(FLAKY_FALLBACK_TO_LOCAL="maybe")
    FlakyBackend.fail = True
    with pytest.raises(PolsterError, match="FLAKY_FALLBACK_TO_LOCAL must be true or false"):
        storage.write(table(3), "bronze", "t")


# Fallback ---------------------------------------------------------------------------------------


def test_without_fallback_a_failed_write_names_backend_path_and_cause(flaky, tmp_path):
    storage = flaky()
    FlakyBackend.fail = True
    with pytest.raises(PolsterError) as info:
        storage.write(table(3), "bronze", "t")
    message = str(info.value)
    assert message.startswith("writing bronze/t to flaky at flaky://bronze/t.parquet failed: ")
    assert "OSError: connection reset" in message
    assert "set FLAKY_FALLBACK_TO_LOCAL=true" in message
    assert TOKEN not in message and "sig=***" in message
    # The unmasked original is not chained (Dagster would store and show it).
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert not (tmp_path / "data" / "bronze" / "t.parquet").exists()


def test_fallback_writes_locally_warns_and_reads_from_where_the_data_is(flaky, tmp_path, capsys):
    storage = flaky(FLAKY_FALLBACK_TO_LOCAL="true")
    storage.write(table(3), "bronze", "t")
    FlakyBackend.fail = True
    result = storage.write(table(8), "bronze", "t")
    assert result.fell_back and result.backend == "local"
    assert result.uri == str(tmp_path / "data" / "bronze" / "t.parquet")
    assert result.rows == 8 and result.sample_path is None
    assert "OSError" in result.error and TOKEN not in result.error
    warning = capsys.readouterr().err
    assert "WARNING: writing bronze/t to flaky" in warning
    assert "the full data was written locally" in warning and TOKEN not in warning
    # Downstream reads (and scans) the newest version, the local one.
    assert storage.read("bronze", "t").equals(table(8))
    assert storage.scan("bronze", "t").collect().equals(table(8))
    assert storage.uri("bronze", "t") == result.uri
    # A later remote write wins again; the stale local copy goes.
    FlakyBackend.fail = False
    again = storage.write(table(2), "bronze", "t")
    assert not again.fell_back and again.backend == "flaky"
    assert not (tmp_path / "data" / "bronze" / "t.parquet").exists()
    assert storage.read("bronze", "t").equals(table(2))


def test_fallback_of_a_lazy_frame_streams_it_locally(flaky, tmp_path):
    storage = flaky(FLAKY_FALLBACK_TO_LOCAL="true")
    FlakyBackend.fail = True
    result = storage.write(table(100).lazy(), "silver", "lazy")
    assert result.fell_back and result.rows == 100
    assert pl.read_parquet(tmp_path / "data" / "silver" / "lazy.parquet").equals(table(100))


def test_a_failed_sample_warns_but_the_write_succeeds(flaky, tmp_path, capsys):
    storage = flaky()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "_samples").write_text("not a directory")
    result = storage.write(table(5), "bronze", "t")
    assert result.backend == "flaky" and result.sample_path is None
    assert "the local sample of bronze/t was not written" in capsys.readouterr().err


def test_sample_size_zero_writes_no_sample(flaky):
    storage = flaky(DUAL_WRITE_SAMPLE_SIZE="0")
    assert storage.write(table(5), "bronze", "t").sample_path is None


# Secrets ----------------------------------------------------------------------------------------


def test_redact_masks_values_their_parts_and_known_parameters():
    key = "Eby8vdM02xNOcqFlqUw/K1SZFPTOtr+KBHBeksoGMGw=="
    connection = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};"
    sas = "sv=2024-01-01&sp=rw&sig=AbCdEf%2Bsecret%3D"
    text = (
        f"failed with {connection} key {key} quoted {quote(key, safe='')} "
        f"url https://acct.blob.core.windows.net/c/x?{sas} and s3 X-Amz-Signature=deadbeef1234"
    )
    masked = redact(text, [connection, sas])
    assert key not in masked and quote(key, safe="") not in masked
    assert "AbCdEf" not in masked and "deadbeef1234" not in masked
    assert "https://acct.blob.core.windows.net/c/x?" in masked  # account names are not secret
    assert redact("short ab", ["ab"]) == "short ab"  # too short to mask safely


# A third-party backend package, installed as a user would -------------------------------------


@pytest.fixture(scope="module")
def folder_site(tmp_path_factory) -> Path:
    """``uv pip install tests/plugins/polster_folder`` into a directory of its own."""
    target = tmp_path_factory.mktemp("folder-site")
    subprocess.run(
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(HERE / "plugins" / "polster_folder"),
        ],
        check=True,
    )
    return target


class TestThirdPartyFolderContract(StorageContract):
    @pytest.fixture
    def make_storage(self, tmp_path, folder_site, monkeypatch):
        monkeypatch.syspath_prepend(str(folder_site))
        plugins = Plugins(autoload=True)
        assert plugins.storage_backend("folder").plugin == "polster-folder"
        (tmp_path / "shared").mkdir()

        def make(**env):
            return storage_on(
                tmp_path,
                plugins,
                STORAGE_BACKEND="folder",
                FOLDER_PATH=str(tmp_path / "shared"),
                LOCAL_DATA_DIR=str(tmp_path / "data"),
                **env,
            )

        return make


def test_a_whole_pipeline_runs_on_a_third_party_backend(tmp_path, folder_site):
    env = clean_env(PYTHONPATH=str(folder_site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    init = run_polster(
        "init", "shop", "--storage", "folder", "--no-git", "--no-setup", cwd=tmp_path, env=env
    )
    assert init.returncode == 0, init.stderr
    project = tmp_path / "shop"
    assert '"polster-folder>=0.2"' in (project / "pyproject.toml").read_text()
    dotenv = (project / ".env").read_text()
    assert "STORAGE_BACKEND=folder" in dotenv and "FOLDER_PATH=" in dotenv
    shared = tmp_path / "shared"
    shared.mkdir()
    (project / ".env").write_text(dotenv.replace("FOLDER_PATH=", f"FOLDER_PATH={shared}"))

    run = subprocess.run(
        [sys.executable, "run_polster.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Succeeded: 3 materialised" in run.stdout
    tables = {
        layer: shared / "shop" / "data" / layer / "example.parquet"
        for layer in ("bronze", "silver", "gold")
    }
    assert pl.read_parquet(tables["bronze"]).height == 1_025
    assert pl.read_parquet(tables["silver"]).height == 980
    assert pl.read_parquet(tables["gold"]).height > 0
    for layer in tables:
        sample = project / "data" / "_samples" / layer / "example.sample.parquet"
        assert pl.read_parquet(sample).height == min(50, pl.read_parquet(tables[layer]).height)
        assert not (project / "data" / layer / "example.parquet").exists()


# Killed writes ------------------------------------------------------------------------------------


def test_a_killed_local_write_leaves_the_previous_version(tmp_path):
    env = {"STORAGE_BACKEND": "local", "LOCAL_DATA_DIR": str(tmp_path / "data")}
    storage = storage_on(tmp_path, **env)
    storage.write(table(10), "bronze", "big")
    folder = tmp_path / "data" / "bronze"

    def under_way():
        return any(p.stat().st_size > 0 for p in folder.glob(".big.*.tmp"))

    kill_mid_write(tmp_path, env, under_way)
    assert storage.read("bronze", "big").equals(table(10))
    assert len(list(folder.glob(".big.*.tmp"))) == 1  # the killed writer's
    storage.write(table(3), "bronze", "big")  # the next write removes it
    assert list(folder.glob(".big.*.tmp")) == []


@pytest.fixture
def folder_storage(tmp_path, folder_site, monkeypatch):
    """(Storage, its settings) on the third-party ``folder`` backend, in ``tmp_path/shared``."""
    (tmp_path / "shared").mkdir()
    env = {
        "STORAGE_BACKEND": "folder",
        "FOLDER_PATH": str(tmp_path / "shared"),
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "DISABLE_LOCAL_SAMPLE": "true",
    }
    monkeypatch.syspath_prepend(str(folder_site))
    monkeypatch.setenv("PYTHONPATH", str(folder_site))
    return storage_on(tmp_path, Plugins(autoload=True), **env), env


def test_a_killed_write_on_a_third_party_backend_leaves_the_previous_version(
    tmp_path, folder_storage
):
    storage, env = folder_storage
    storage.write(table(10), "bronze", "big")
    folder = tmp_path / "shared" / "demo" / "data" / "bronze"

    def under_way():
        return any(p.stat().st_size > 0 for p in folder.glob(".big.parquet.*.tmp"))

    kill_mid_write(tmp_path, env, under_way)
    assert storage.read("bronze", "big").equals(table(10))
    assert len(list(folder.glob(".big.parquet.*.tmp"))) == 1  # the killed writer's
    storage.write(table(3), "bronze", "big")  # the next write removes it
    assert list(folder.glob(".big.parquet.*.tmp")) == []


def test_a_killed_partition_write_on_a_third_party_backend_stays_out_of_the_table_folder(
    tmp_path, folder_storage
):
    """A backend that writes a temporary file and renames it (FsspecBackend's default) stages
    a partition's file beside the table's folder: the folder holds whole partitions only."""
    import polars as pl

    from polster_core.partitions import PartitionedTable

    storage, env = folder_storage
    big = PartitionedTable(storage, "bronze", "big")
    big.write(table(10), "2026-11-01")
    big.write(table(7), "2026-11-02")
    layer = tmp_path / "shared" / "demo" / "data" / "bronze"

    def under_way():
        return any(p.stat().st_size > 0 for p in layer.glob(".big.date=2026-11-02.*.tmp"))

    kill_mid_write(tmp_path, env, under_way, partition="2026-11-02")
    assert big.read("2026-11-02").equals(table(7))
    assert pl.read_parquet(layer / "big", hive_partitioning=True).height == 17
    assert len(list(layer.glob(".big.date=2026-11-02.*.tmp"))) == 1  # the killed writer's
    big.write(table(3), "2026-11-02")  # the next write of that partition removes it
    assert list(layer.glob("*.tmp")) == [] and big.keys() == ["2026-11-01", "2026-11-02"]
