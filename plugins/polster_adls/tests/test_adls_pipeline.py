"""The example pipeline of a `polster init --storage adls` project, on a real Azurite:
Polster's pipeline contract, and what only Azure does (blocks, SAS tokens)."""

from __future__ import annotations

import io

import polars as pl
import pytest

from polster_core.testing import table
from polster_core.testing.pipeline import PipelineContract, RemoteBackend, storage_on, unique
from polster_core.testing.servers import AZURITE_ACCOUNT, AZURITE_KEY


class AzuriteBackend(RemoteBackend):
    def new_location(self, name=None):
        return self.server.create_container(name or unique())

    def env(self, location):
        return {
            "ADLS_CONTAINER": location,
            "ADLS_CONNECTION_STRING": self.server.connection_string,
        }

    def fallback_env(self, location):
        """A SAS token rather than the account key: its signature must not leak either."""
        return {
            "ADLS_CONTAINER": location,
            "ADLS_CONNECTION_STRING": "",
            "ADLS_ACCOUNT_NAME": AZURITE_ACCOUNT,
            "ADLS_ENDPOINT_URL": self.server.endpoint,
            "ADLS_SAS_TOKEN": self.server.sas_token(location),
            "ADLS_MAX_RETRIES": "0",
        }

    def uri(self, location, key):
        return f"az://{location}/{key}"

    def keys(self, location, prefix=""):
        return self.server.blob_names(location, prefix)

    def read(self, location, key):
        data = self.server.service().get_blob_client(location, key).download_blob().readall()
        return pl.read_parquet(io.BytesIO(data))

    def write_under_way(self, location, key):
        return self.server.uncommitted_blocks(location, key) > 0

    def secrets(self, env):
        found = [AZURITE_KEY, env.get("ADLS_CONNECTION_STRING", "")]
        sas = env.get("ADLS_SAS_TOKEN", "")
        signature = [part[4:] for part in sas.split("&") if part.startswith("sig=")]
        return [*found, sas, *signature]

    def left_after_restart(self, location):
        """Azurite keeps its data: after a restart on it there is still no object (it may
        even have lost the container, whose creation it had not saved yet)."""
        self.server.restart()
        if location not in [c.name for c in self.server.service().list_containers()]:
            return []
        return self.server.blob_names(location)


class TestAdlsPipeline(PipelineContract):
    storage = "adls"
    requirement = '"polster-adls>=0.1.1,<0.2"'
    settings = (
        "ADLS_ACCOUNT_NAME",
        "ADLS_ACCOUNT_KEY",
        "ADLS_CONTAINER",
        "ADLS_BASE_PATH",
        "ADLS_SAS_TOKEN",
        "ADLS_CONNECTION_STRING",
        "ADLS_FALLBACK_TO_LOCAL",
    )
    secret_settings = ("ADLS_ACCOUNT_KEY", "ADLS_CONNECTION_STRING")

    @pytest.fixture
    def backend(self, azurite):
        return AzuriteBackend(azurite)

    @pytest.fixture
    def backend_factory(self, azurite_factory):
        return lambda: AzuriteBackend(azurite_factory())

    def test_setup_installs_the_same_plugin_into_the_project_venv(self, project):
        from pathlib import Path

        from polster_core.project.model import load_project
        from polster_core.project.venv import install_command

        command = install_command(load_project(project), Path("/venv/bin/python"), "uv")
        plugin_dir = Path(__file__).resolve().parents[1]
        assert str(plugin_dir) in command  # from its local path, as polster itself
        assert command[command.index(str(plugin_dir)) - 1] == "-e"


def test_a_write_whose_blocks_another_run_discarded_is_redone(azurite, tmp_path, monkeypatch):
    """Azure drops a blob's uncommitted blocks when anyone commits it: a second run of the
    pipeline committing the same table mid-upload. The upload is redone, never mixed."""
    from polster_adls import blocks

    container = AzuriteBackend(azurite).new_location()
    env = {
        "STORAGE_BACKEND": "adls",
        "ADLS_CONTAINER": container,
        "ADLS_CONNECTION_STRING": azurite.connection_string,
        "ADLS_BASE_PATH": "race",
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "DISABLE_LOCAL_SAMPLE": "true",
    }
    storage = storage_on(tmp_path, env)
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
