"""Data contracts on remote storage (issue 30): a project made by `polster init --storage
adls|s3` with a quarantine contract on its silver example, run with --workers on Azurite and
moto: the valid rows and the quarantined ones are on the backend, readable with polars, and
no secret reaches the output or Dagster's history."""

from __future__ import annotations

import pytest

from polster_core.testing.pipeline import grep_secrets, run_pipeline
from polster_core.testing.projects import init_project, set_env
from tests.test_contracts import BROKEN, SILVER_ROWS, set_contract
from tests.test_partitions_remote import new_remote


@pytest.fixture(params=["adls", "s3"])
def remote(request):
    server = request.getfixturevalue("azurite" if request.param == "adls" else "moto")
    return new_remote(request.param, server)


def test_quarantine_on_remote_storage_with_workers(remote, tmp_path):
    project = init_project(tmp_path, remote.kind)
    set_env(project, **remote.env)
    set_contract(project, "quarantine")
    home = tmp_path / "dagster"
    result = run_pipeline(project, home, "--workers", "2", LOCAL_DATA_DIR=str(tmp_path / "d"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "contract_amount_max failed" in result.stdout

    names = remote.names("dna-platform/data/silver/")
    assert any(n.endswith("example__rejected.parquet") for n in names), names
    storage = remote.storage(project, LOCAL_DATA_DIR=str(tmp_path / "d"))
    valid = storage.read("silver", "example")
    rejected = storage.read("silver", "example__rejected")
    assert valid.height == SILVER_ROWS - BROKEN and valid["amount"].max() <= 40
    assert rejected.height == BROKEN
    assert set(rejected["failed_rules"]) == {"amount|max"}
    assert rejected["run_id"].n_unique() == 1

    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("run_silver_example"))
        metadata = event.asset_materialization.metadata
        assert metadata["contract/quarantined_rows"].value == BROKEN
        assert rejected["run_id"][0] == event.run_id
    hits = grep_secrets([home, project], [result.stdout, result.stderr], remote.secrets)
    assert not hits, hits
