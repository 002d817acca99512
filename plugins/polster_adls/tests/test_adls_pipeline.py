"""The example pipeline of a `polster init --storage adls` project, on a real Azurite."""

from __future__ import annotations

import io
import uuid

import polars as pl
import pytest

from tests.kill_write import kill_mid_write
from tests.remote_pipeline import (
    LAYERS,
    add_kill_switch,
    grep_secrets,
    init_project,
    materializations,
    run_pipeline,
    set_env,
)
from tests.storage_servers import AZURITE_ACCOUNT, AZURITE_KEY


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return init_project(tmp_path_factory.mktemp("adls"), "adls")


def new_container(azurite) -> str:
    return azurite.create_container(f"pipe-{uuid.uuid4().hex[:10]}")


def blob_table(azurite, container: str, name: str) -> pl.DataFrame:
    data = azurite.service().get_blob_client(container, name).download_blob().readall()
    return pl.read_parquet(io.BytesIO(data))


def test_init_adds_the_plugin_and_its_settings_with_secrets_only_in_dotenv(project):
    pyproject = (project / "pyproject.toml").read_text()
    assert '"polster-adls>=0.1.1,<0.2"' in pyproject and 'storage = "adls"' in pyproject
    env = (project / ".env").read_text()
    example = (project / ".env.example").read_text()
    for name in (
        "ADLS_ACCOUNT_NAME",
        "ADLS_ACCOUNT_KEY",
        "ADLS_CONTAINER",
        "ADLS_BASE_PATH",
        "ADLS_SAS_TOKEN",
        "ADLS_CONNECTION_STRING",
        "ADLS_FALLBACK_TO_LOCAL",
    ):
        assert f"\n{name}=" in env and f"\n{name}=" in example
    assert "STORAGE_BACKEND=adls" in env and "ADLS_FALLBACK_TO_LOCAL=false" in env
    assert "ADLS_ACCOUNT_KEY=\n" in example and "ADLS_CONNECTION_STRING=\n" in example
    readme = (project / "README.md").read_text()
    assert "| `ADLS_ACCOUNT_KEY` |" in readme and "| `ADLS_FALLBACK_TO_LOCAL` |" in readme


def test_pipeline_writes_the_documented_paths_and_local_samples(project, azurite, tmp_path):
    container = new_container(azurite)
    set_env(project, ADLS_CONTAINER=container, ADLS_CONNECTION_STRING=azurite.connection_string)
    data = tmp_path / "data"
    result = run_pipeline(project, tmp_path / "dagster", LOCAL_DATA_DIR=str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Succeeded: 3 materialised, 0 failed" in result.stdout

    names = [f"dna-platform/data/{layer}/example.parquet" for layer in LAYERS]
    assert azurite.blob_names(container) == sorted(names)
    tables = {
        layer: blob_table(azurite, container, name)
        for layer, name in zip(LAYERS, names, strict=True)
    }
    assert tables["bronze"].height == 1_025 and tables["silver"].height == 980
    assert tables["gold"]["total_events"].sum() == 980
    for layer, frame in tables.items():
        sample = pl.read_parquet(data / "_samples" / layer / "example.sample.parquet")
        assert sample.equals(frame.head(50))
        assert not (data / layer / "example.parquet").exists()  # no full local copy

    metadata = materializations(tmp_path / "dagster")
    for layer, name in zip(LAYERS, names, strict=True):
        assert metadata[layer]["uri"] == f"az://{container}/{name}"
        assert metadata[layer]["storage_backend"] == "adls"
        assert metadata[layer]["fell_back_to_local"] is False
        assert metadata[layer]["dagster/row_count"] == tables[layer].height
    secrets = [AZURITE_KEY, azurite.connection_string]
    places = [project, tmp_path]
    assert grep_secrets(places, [result.stdout, result.stderr, str(metadata)], secrets) == []


def test_disable_local_sample_is_honoured(project, azurite, tmp_path):
    container = new_container(azurite)
    set_env(project, ADLS_CONTAINER=container, ADLS_CONNECTION_STRING=azurite.connection_string)
    result = run_pipeline(
        project,
        tmp_path / "dagster",
        LOCAL_DATA_DIR=str(tmp_path / "data"),
        DISABLE_LOCAL_SAMPLE="true",
        ADLS_BASE_PATH="nosample",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(azurite.blob_names(container, "nosample/")) == 3
    assert not (tmp_path / "data" / "_samples").exists()


def sas_env(server, container: str) -> dict[str, str]:
    return {
        "ADLS_CONTAINER": container,
        "ADLS_CONNECTION_STRING": "",
        "ADLS_ACCOUNT_NAME": AZURITE_ACCOUNT,
        "ADLS_ENDPOINT_URL": server.endpoint,
        "ADLS_SAS_TOKEN": server.sas_token(container),
        "ADLS_MAX_RETRIES": "0",
    }


def test_fallback_when_azurite_dies_mid_run(project, azurite_factory, tmp_path):
    server = azurite_factory()
    container = server.create_container("fallback")
    add_kill_switch(project)
    env = sas_env(server, container)
    data = tmp_path / "data"
    result = run_pipeline(
        project,
        tmp_path / "dagster",
        LOCAL_DATA_DIR=str(data),
        ADLS_FALLBACK_TO_LOCAL="true",
        POLSTER_TEST_KILL_PID=str(server.pid),
        **env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not server.running
    assert "Succeeded: 3 materialised, 0 failed" in result.stdout
    assert "WARNING: writing bronze/example to adls at az://fallback/" in result.stderr
    assert "the full data was written locally" in result.stderr
    # Every layer is complete on local disk, and downstream read it from there.
    assert pl.read_parquet(data / "bronze" / "example.parquet").height == 1_025
    assert pl.read_parquet(data / "silver" / "example.parquet").height == 980
    metadata = materializations(tmp_path / "dagster")
    for layer in LAYERS:
        assert metadata[layer]["fell_back_to_local"] is True
        assert metadata[layer]["storage_backend"] == "local"
        assert metadata[layer]["uri"] == str(data / layer / "example.parquet")
        assert metadata[layer]["fallback_reason"]
    sas = env["ADLS_SAS_TOKEN"]
    signature = [part[4:] for part in sas.split("&") if part.startswith("sig=")]
    secrets = [AZURITE_KEY, sas, *signature]
    texts = [result.stdout, result.stderr, str(metadata)]
    assert grep_secrets([project, tmp_path], texts, secrets) == []


def test_without_fallback_the_run_fails_clearly_and_leaves_no_object(
    project, azurite_factory, tmp_path
):
    server = azurite_factory()
    container = server.create_container("nofallback")
    add_kill_switch(project)
    env = sas_env(server, container)
    data = tmp_path / "data"
    result = run_pipeline(
        project,
        tmp_path / "dagster",
        LOCAL_DATA_DIR=str(data),
        POLSTER_TEST_KILL_PID=str(server.pid),
        **env,
    )
    assert result.returncode == 1
    assert "FAILED: 0 materialised, 1 failed, 2 skipped" in result.stdout
    assert (
        "writing bronze/example to adls at az://nofallback/dna-platform/data/bronze/"
        "example.parquet failed: " in result.stderr
    )
    assert "set ADLS_FALLBACK_TO_LOCAL=true" in result.stderr
    assert not (data / "bronze" / "example.parquet").exists()
    # The server died before the write began; the contract and killed-write tests cover
    # uploads cut part-way. After a restart on the same data there is still no object
    # (Azurite may even have lost the container, whose creation it had not saved yet).
    server.restart()
    assert container not in [c.name for c in server.service().list_containers()] or (
        server.blob_names(container) == []
    )
    secrets = [AZURITE_KEY, env["ADLS_SAS_TOKEN"]]
    assert grep_secrets([project, tmp_path], [result.stdout, result.stderr], secrets) == []


def test_a_killed_write_leaves_the_previous_version(azurite, tmp_path):
    from polster_core.plugins import Plugins
    from polster_core.settings import Settings
    from polster_core.storage import Storage
    from polster_core.testing import table

    container = new_container(azurite)
    env = {
        "STORAGE_BACKEND": "adls",
        "ADLS_CONTAINER": container,
        "ADLS_CONNECTION_STRING": azurite.connection_string,
        "ADLS_BASE_PATH": "kill",
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "DISABLE_LOCAL_SAMPLE": "true",
    }
    storage = Storage(Settings(tmp_path, "demo", env), plugins=Plugins(autoload=True))
    storage.write(table(10), "bronze", "big")
    blob = "kill/bronze/big.parquet"
    kill_mid_write(tmp_path, env, lambda: azurite.uncommitted_blocks(container, blob) > 0)
    assert storage.read("bronze", "big").equals(table(10))
    assert azurite.blob_names(container) == [blob]


def test_setup_installs_the_same_plugin_into_the_project_venv(project):
    from pathlib import Path

    from polster_core.project import load_project
    from polster_core.venv import install_command

    command = install_command(load_project(project), Path("/venv/bin/python"), "uv")
    plugin_dir = Path(__file__).resolve().parents[1]
    assert str(plugin_dir) in command  # from its local path, as polster itself
    assert command[command.index(str(plugin_dir)) - 1] == "-e"


def test_lazy_frames_stream_to_adls_and_come_back_as_scans(azurite, tmp_path, monkeypatch):
    from tests.remote_pipeline import run_lazy_assets

    container = new_container(azurite)
    env = {
        "STORAGE_BACKEND": "adls",
        "ADLS_CONTAINER": container,
        "ADLS_BASE_PATH": "lazy",
        "ADLS_CONNECTION_STRING": azurite.connection_string,
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
    }
    seen = run_lazy_assets(tmp_path, env, monkeypatch)
    assert seen["type"] is pl.LazyFrame and seen["rows"] == 10_000
    assert seen["run_silver_lazy"]["uri"] == f"az://{container}/lazy/silver/lazy.parquet"
    assert seen["run_silver_lazy"]["dagster/row_count"] == 10_000
    assert azurite.blob_names(container) == ["lazy/bronze/lazy.parquet", "lazy/silver/lazy.parquet"]
    assert blob_table(azurite, container, "lazy/silver/lazy.parquet").columns[-1] == "double"


def test_a_write_whose_blocks_another_run_discarded_is_redone(azurite, tmp_path, monkeypatch):
    """Azure drops a blob's uncommitted blocks when anyone commits it: a second run of the
    pipeline committing the same table mid-upload. The upload is redone, never mixed."""
    from polster_adls import blocks

    from polster_core.plugins import Plugins
    from polster_core.settings import Settings
    from polster_core.storage import Storage
    from polster_core.testing import table

    container = new_container(azurite)
    env = {
        "STORAGE_BACKEND": "adls",
        "ADLS_CONTAINER": container,
        "ADLS_CONNECTION_STRING": azurite.connection_string,
        "ADLS_BASE_PATH": "race",
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "DISABLE_LOCAL_SAMPLE": "true",
    }
    storage = Storage(Settings(tmp_path, "demo", env), plugins=Plugins(autoload=True))
    big = pl.select(**{f"c{i}": pl.int_range(400_000).hash(i) for i in range(4)})  # 12.8 MB: blocks
    rival = io.BytesIO()
    table(3).write_parquet(rival)
    commits = []
    real_commit = blocks.BlockBlobWriter.commit

    def commit(self):
        if not commits:  # the other run commits its version once our blocks are staged
            for future in self.pending:
                future.result()
            other = blocks.BlockBlobWriter(self.client, block_size=1024)
            other.write(rival.getvalue())
            real_commit(other)
        commits.append(len(self.block_ids))
        return real_commit(self)

    monkeypatch.setattr(blocks.BlockBlobWriter, "commit", commit)
    storage.write(big, "bronze", "race")
    assert len(commits) == 2 and commits[0] >= 1  # staged blocks, lost once, then redone
    assert storage.read("bronze", "race").equals(big)
