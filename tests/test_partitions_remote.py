"""Partitions on remote storage, through the real commands: ADLS on Azurite and S3 on moto.

A project made by `polster init --storage adls|s3` gets the issue's three assets (bronze
events partitioned daily, silver clean_events partitioned like it, gold event_kpis not
partitioned); `python run_polster.py` runs one partition, a backfill and the default run with
the data on the test server. Then: a write of one partition killed part-way (local, ADLS, S3)
leaves the other partitions and that partition's previous version readable, and
`polster remove-asset --purge-data` deletes the table's folder on the backend.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from polster_core.testing.pipeline import grep_secrets, run_pipeline
from polster_core.testing.projects import init_project, plugin_env, run_polster, set_env
from polster_core.testing.servers import AZURITE_KEY, MOTO_KEY_ID, MOTO_SECRET
from polster_core.testing.writes import kill_mid_write

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
BASE = "dna-platform/data"


@dataclass
class Remote:
    """A container (ADLS) or bucket (S3) of its own on a test server, as the tests see it."""

    kind: str
    server: object
    where: str
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    def names(self, prefix: str = "") -> list[str]:
        if self.kind == "adls":
            return self.server.blob_names(self.where, prefix)
        return self.server.keys(self.where, prefix)

    def stamp(self, name: str) -> str:
        """Something that changes whenever the object is written again."""
        if self.kind == "adls":
            client = self.server.service().get_blob_client(self.where, name)
            return client.get_blob_properties().etag
        head = self.server.client().head_object(Bucket=self.where, Key=name)
        return f"{head['LastModified'].isoformat()} {head['ETag']}"

    def partitions(self, layer: str, name: str) -> list[str]:
        prefix = f"{BASE}/{layer}/{name}/"
        return [n[len(prefix) :] for n in self.names(prefix)]

    def storage(self, root: Path, **extra: str):
        from polster_core.plugins import Plugins
        from polster_core.settings import Settings
        from polster_core.storage import Storage

        env = {"STORAGE_BACKEND": self.kind, **self.env, **extra}
        return Storage(Settings(root, "dna-platform", env), plugins=Plugins(autoload=True))


def new_remote(kind: str, server) -> Remote:
    where = f"parts-{uuid.uuid4().hex[:10]}"
    if kind == "adls":
        server.create_container(where)
        env = {"ADLS_CONTAINER": where, "ADLS_CONNECTION_STRING": server.connection_string}
        return Remote(kind, server, where, env, [AZURITE_KEY, server.connection_string])
    server.create_bucket(where)
    env = {
        "S3_BUCKET": where,
        "S3_ENDPOINT_URL": server.endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": MOTO_KEY_ID,
        "S3_SECRET_ACCESS_KEY": MOTO_SECRET,
        "S3_MAX_RETRIES": "0",
    }
    return Remote(kind, server, where, env, [MOTO_KEY_ID, MOTO_SECRET])


@pytest.fixture(params=["adls", "s3"])
def remote(request) -> Remote:
    server = request.getfixturevalue("azurite" if request.param == "adls" else "moto")
    return new_remote(request.param, server)


def events_project(parent: Path, storage: str) -> Path:
    """The issue's three assets, added with the real `polster add-asset`."""
    project = init_project(parent, storage)
    for args in (
        ("bronze", "events", "--partitions", "daily", "--start", "2026-11-01"),
        ("silver", "clean_events", "--deps", "events"),
        ("gold", "event_kpis", "--deps", "clean_events", "--partitions", "none"),
    ):
        layer, name, *more = args
        result = run_polster(
            "add-asset", "--layer", layer, "--name", name, *more, "--no-input",
            cwd=project, env=plugin_env(),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    return project


def run(project: Path, tmp_path: Path, *args: str):
    result = run_pipeline(project, tmp_path / "dagster", *args, LOCAL_DATA_DIR=str(tmp_path / "d"))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def hive(days) -> list[str]:
    return [f"date={day}/data.parquet" for day in days]


def test_partitioned_pipeline_end_to_end_on_remote_storage(remote, tmp_path):
    project = events_project(tmp_path, remote.kind)
    set_env(project, **remote.env)  # the settings live in .env, as for a user

    # One partition: its file in each partitioned table, and the gold table over it.
    out = run(project, tmp_path, "--partition", "2026-11-02").stdout
    assert "(1 partition(s))" in out
    assert remote.partitions("bronze", "events") == hive(["2026-11-02"])
    assert remote.partitions("silver", "clean_events") == hive(["2026-11-02"])
    assert f"{BASE}/gold/event_kpis.parquet" in remote.names(f"{BASE}/gold/")

    # A backfill in one run: five partitions, and gold reads them all.
    out = run(project, tmp_path, "--from", DAYS[0], "--to", DAYS[-1]).stdout
    assert "partitions 2026-11-01 to 2026-11-05 (one run)" in out
    assert "(5 partition(s))" in out
    assert remote.partitions("bronze", "events") == hive(DAYS)
    assert remote.partitions("silver", "clean_events") == hive(DAYS)

    storage = remote.storage(project, LOCAL_DATA_DIR=str(tmp_path / "d"))
    gold = storage.read("gold", "event_kpis")
    assert gold["rows"].sum() == 3 * len(DAYS)

    # The folder reads back as one hive-partitioned table: polars' own cloud reader on it.
    backend = storage.backend
    folder = backend.url("silver", "clean_events").removesuffix(".parquet")
    table = pl.scan_parquet(
        f"{folder}/**/*.parquet", hive_partitioning=True, **backend.polars_options()
    ).collect()
    assert table.height == 3 * len(DAYS)
    assert sorted(table["date"].cast(pl.String).unique()) == DAYS
    # ... and through the backend, as an unpartitioned downstream reads it.
    from polster_core.partitions import PartitionedTable

    bronze = PartitionedTable(storage, "bronze", "events")
    assert bronze.keys() == DAYS
    assert bronze.read("2026-11-03")["loaded_at"].to_list() == ["2026-11-03"] * 3

    # Re-materialising one partition replaces that partition's file only.
    stamps = {n: remote.stamp(n) for n in remote.names(f"{BASE}/bronze/events/")}
    time.sleep(1.1)  # S3's Last-Modified has whole seconds
    out = run(project, tmp_path, "--partition", "2026-11-03").stdout
    assert "(1 partition(s))" in out
    after = {n: remote.stamp(n) for n in remote.names(f"{BASE}/bronze/events/")}
    changed = sorted(n for n in stamps if after[n] != stamps[n])
    assert changed == [f"{BASE}/bronze/events/date=2026-11-03/data.parquet"]
    assert sorted(after) == sorted(stamps)

    # The default run: the last complete partition, and gold over every partition.
    result = run(project, tmp_path)
    last = re.search(r"partition (\d{4}-\d{2}-\d{2})\b", result.stdout).group(1)
    days = sorted({*DAYS, last})
    assert remote.partitions("bronze", "events") == hive(days)
    assert remote.partitions("silver", "clean_events") == hive(days)
    assert storage.read("gold", "event_kpis")["rows"].sum() == 3 * len(days)

    texts = [result.stdout, result.stderr]
    assert grep_secrets([project, tmp_path], texts, remote.secrets) == []


# A killed write of one partition --------------------------------------------------------------


@pytest.fixture(params=["local", "adls", "s3"])
def killed_store(request, tmp_path):
    """(env of the store, where a partition file lands, a test of "its upload is under way",
    and the objects stored under the table's folder)."""
    kind = request.param
    env = {"LOCAL_DATA_DIR": str(tmp_path / "data"), "DISABLE_LOCAL_SAMPLE": "true"}
    blob = "kill/bronze/big/date=2026-11-02/data.parquet"
    if kind == "local":
        data = tmp_path / "data"

        def under_way():
            return any(p.stat().st_size > 0 for p in data.rglob("*.tmp"))

        def stored():
            folder = data / "bronze" / "big"
            return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet"))

        return {"STORAGE_BACKEND": "local", **env}, under_way, stored
    server = request.getfixturevalue("azurite" if kind == "adls" else "moto")
    store = new_remote(kind, server)
    env = {"STORAGE_BACKEND": kind, **store.env, f"{kind.upper()}_BASE_PATH": "kill", **env}

    def under_way():
        if kind == "adls":
            return server.uncommitted_blocks(store.where, blob) > 0
        return server.multipart_uploads(store.where) > 0

    def stored():
        return [n.removeprefix("kill/bronze/big/") for n in store.names("kill/bronze/big/")]

    return env, under_way, stored


def test_a_killed_partition_write_leaves_the_others_and_its_previous_version(
    killed_store, tmp_path
):
    from polster_core.partitions import PartitionedTable
    from polster_core.plugins import Plugins
    from polster_core.settings import Settings
    from polster_core.storage import Storage
    from polster_core.testing import table

    env, under_way, stored = killed_store
    storage = Storage(Settings(tmp_path, "demo", env), plugins=Plugins(autoload=True))
    events = PartitionedTable(storage, "bronze", "big")
    events.write(table(10), "2026-11-01")
    events.write(table(7), "2026-11-02")

    kill_mid_write(tmp_path, env, under_way, partition="2026-11-02")

    assert events.keys() == ["2026-11-01", "2026-11-02"]
    assert events.read("2026-11-01").equals(table(10))
    assert events.read("2026-11-02").equals(table(7))  # the previous version, whole
    assert events.scan_all().collect().height == 17
    assert stored() == hive(["2026-11-01", "2026-11-02"])
    if env["STORAGE_BACKEND"] == "local":  # another engine reads the folder as it stands
        folder = tmp_path / "data" / "bronze" / "big"
        assert pl.read_parquet(folder, hive_partitioning=True).height == 17
    # The next write of that partition replaces it (and clears what the killed writer left).
    events.write(table(3), "2026-11-02")
    assert events.read("2026-11-02").equals(table(3))
    assert events.scan_all().collect().height == 13
    if env["STORAGE_BACKEND"] == "local":
        assert list((tmp_path / "data").rglob("*.tmp")) == []


# remove-asset --purge-data on the backend -----------------------------------------------------


def test_purge_data_deletes_every_partition_and_the_file_on_the_backend(remote, tmp_path):
    from polster_core.partitions import PartitionedTable
    from polster_core.testing import table

    project = events_project(tmp_path, remote.kind)
    set_env(project, **remote.env)
    storage = remote.storage(project)
    for name in ("clean_events", "clean_events_v2"):  # a neighbour whose name starts the same
        for day in DAYS[:3]:
            PartitionedTable(storage, "silver", name).write(table(4), day)
        storage.write(table(2), "silver", name)  # an unpartitioned version from before
    PartitionedTable(storage, "bronze", "events").write(table(5), DAYS[0])
    before = remote.names()
    silver = f"{BASE}/silver/clean_events"
    assert len(before) == 9
    scheme = "az" if remote.kind == "adls" else "s3"

    def remove(*more: str):
        return run_polster(
            "remove-asset", "--layer", "silver", "--name", "clean_events", "--purge-data",
            *more, cwd=project, env=plugin_env(),
        )  # fmt: skip

    # gold depends on it: refused before anything is asked of the store.
    result = remove()
    assert result.returncode == 1 and "is used by run_gold_event_kpis" in result.stderr
    assert remote.names() == before
    result = run_polster(
        "remove-asset", "--layer", "gold", "--name", "event_kpis", cwd=project, env=plugin_env()
    )
    assert result.returncode == 0, result.stderr

    folder = f"{scheme}://{remote.where}/{silver}/"
    result = remove("--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"delete {folder} (3 partition(s), on {remote.kind})" in result.stdout
    assert f"delete {scheme}://{remote.where}/{silver}.parquet (on {remote.kind})" in result.stdout
    assert remote.names() == before

    result = remove()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"delete {folder} (3 partition(s), on {remote.kind})" in result.stdout
    assert not (project / "src/core/silver_clean_events.py").exists()
    left = [n for n in before if not n.startswith((f"{silver}/", f"{silver}.parquet"))]
    assert len(left) == 5 and remote.names() == left  # the neighbour and bronze are untouched
    assert grep_secrets([project], [result.stdout, result.stderr], remote.secrets) == []

    # Nothing stored any more: said, and the asset's files go as usual.
    result = run_polster(
        "remove-asset", "--layer", "gold", "--name", "example", "--purge-data",
        cwd=project, env=plugin_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Nothing of gold/example is stored on {remote.kind}" in result.stdout
    assert not (project / "src/core/gold_example.py").exists()
    assert remote.names() == left


def test_purge_data_when_the_store_fails_removes_nothing(remote, tmp_path):
    """ADLS refuses a wrong key; S3's endpoint has nothing listening (Azure's SDK retries an
    unreachable host for about 90 s, whatever ADLS_MAX_RETRIES says: that setting is for
    writes). Either way: one line, no secret, and not a file of the project changed."""
    import base64

    from polster_core.testing.projects import assert_one_line_error, tree_hash
    from polster_core.testing.servers import free_port

    project = events_project(tmp_path, remote.kind)
    if remote.kind == "adls":
        wrong = base64.b64encode(b"not the key of this account, 64 bytes long......" * 2).decode()
        refused = remote.server.connection_string.replace(AZURITE_KEY, wrong)
        set_env(project, **{**remote.env, "ADLS_CONNECTION_STRING": refused})
        secrets = [*remote.secrets, wrong]
    else:
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        set_env(project, **{**remote.env, "S3_ENDPOINT_URL": dead})
        secrets = remote.secrets
    before = tree_hash(project)
    result = run_polster(
        "remove-asset", "--layer", "gold", "--name", "event_kpis", "--purge-data",
        cwd=project, env=plugin_env(),
    )  # fmt: skip
    assert_one_line_error(result, "gold/event_kpis", "nothing was removed")
    assert tree_hash(project) == before
    assert grep_secrets([], [result.stdout, result.stderr], secrets) == []


def test_purge_data_refused_by_the_store_keeps_the_asset_to_try_again(azurite, tmp_path):  # noqa: F811
    """A SAS token that may read and list but not delete: the command fails in one line, the
    asset's files stay, so the same command finishes the job once it may delete."""
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    from polster_core.partitions import PartitionedTable
    from polster_core.testing import table
    from polster_core.testing.projects import assert_one_line_error, tree_hash

    remote = new_remote("adls", azurite)
    project = events_project(tmp_path, "adls")
    set_env(project, **remote.env)
    storage = remote.storage(project)
    for day in DAYS[:2]:
        PartitionedTable(storage, "gold", "event_kpis").write(table(3), day)
    before_names = remote.names()
    read_only = generate_container_sas(
        azurite.account,
        remote.where,
        account_key=azurite.key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )
    sas = {
        "ADLS_CONNECTION_STRING": "",
        "ADLS_ACCOUNT_NAME": azurite.account,
        "ADLS_ENDPOINT_URL": azurite.endpoint,
        "ADLS_SAS_TOKEN": read_only,
    }
    set_env(project, **sas)
    before = tree_hash(project)

    def purge():
        return run_polster(
            "remove-asset", "--layer", "gold", "--name", "event_kpis", "--purge-data",
            cwd=project, env=plugin_env(),
        )  # fmt: skip

    result = purge()
    assert_one_line_error(result, "gold/event_kpis", "run the command again")
    assert tree_hash(project) == before
    assert remote.names() == before_names
    signature = [p[4:] for p in read_only.split("&") if p.startswith("sig=")]
    assert grep_secrets([], [result.stdout, result.stderr], [read_only, *signature]) == []

    set_env(project, **remote.env, ADLS_SAS_TOKEN="", ADLS_ACCOUNT_NAME="", ADLS_ENDPOINT_URL="")
    result = purge()
    assert result.returncode == 0, result.stderr
    assert remote.names(f"{BASE}/gold/event_kpis") == []
    assert not (project / "src/core/gold_event_kpis.py").exists()
