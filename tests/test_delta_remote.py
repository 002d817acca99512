"""Delta tables on every backend (issue 29): local, ADLS (a real Azurite) and S3 (a real moto
server), with each backend's own credentials handed to delta-rs. Faults: a writer killed
(SIGKILL) in the middle of a merge leaves the previous version readable and the next run
completes; many concurrent merges lose and duplicate no row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from polster_core.errors import PolsterError
from polster_core.run import delta
from polster_core.settings import Settings
from polster_core.storage import Storage

REPO = Path(__file__).resolve().parent.parent

BACKENDS = ["local", "adls", "s3"]


def env_for(backend: str, request, root: Path) -> dict[str, str]:
    name = root.name.replace("_", "-")[-40:].strip("-").lower() or "t"
    if backend == "local":
        return {}
    if backend == "adls":
        server = request.getfixturevalue("azurite")
        container = server.create_container(f"d{abs(hash(str(root))) % 10**9}")
        return {
            "STORAGE_BACKEND": "adls",
            "ADLS_CONTAINER": container,
            "ADLS_CONNECTION_STRING": server.connection_string,
            "ADLS_BASE_PATH": name,
        }
    server = request.getfixturevalue("moto")
    bucket = server.create_bucket("delta-lake")
    return {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": server.endpoint,
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing-secret-value",
        "S3_REGION": "us-east-1",
        "S3_BASE_PATH": name,
    }


@pytest.fixture(params=BACKENDS)
def where(request, tmp_path: Path, monkeypatch) -> tuple[Storage, dict[str, str]]:
    monkeypatch.delenv("POLSTER_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    env = env_for(request.param, request, tmp_path)
    return Storage(Settings(tmp_path, "demo", env)), env


def test_merge_and_snapshot_on_each_backend(where) -> None:
    storage, env = where
    spec = delta.TableSpec("merge", ("id",))
    delta.write(storage, pl.DataFrame({"id": [1, 2], "v": ["a", "b"]}), "silver", "c", spec)
    result = delta.write(
        storage, pl.DataFrame({"id": [2, 3], "v": ["B", "c"]}), "silver", "c", spec
    )
    assert (result.version, result.inserted, result.updated) == (1, 1, 1)
    assert result.backend == (env.get("STORAGE_BACKEND") or "local")
    # The Storage facade reads the current version, and older ones.
    assert sorted(storage.read("silver", "c").rows()) == [(1, "a"), (2, "B"), (3, "c")]
    assert sorted(storage.scan("silver", "c", version=0).collect().rows()) == [(1, "a"), (2, "b")]
    # Secrets never reach what a user sees.
    for secret in ("testing-secret-value", env.get("ADLS_CONNECTION_STRING", "@@")):
        assert secret not in result.uri

    snap = delta.TableSpec("snapshot", ("id",))
    delta.write(storage, pl.DataFrame({"id": [1], "v": ["a"]}), "silver", "s", snap)
    delta.write(storage, pl.DataFrame({"id": [1], "v": ["b"]}), "silver", "s", snap)
    rows = delta.read(storage, "silver", "s").sort("valid_from")
    assert rows.select("v", "is_current").rows() == [("a", False), ("b", True)]


def test_partition_replace_on_each_backend(where) -> None:
    storage, _ = where
    spec = delta.TableSpec("append")
    for key in ("2026-11-01", "2026-11-02", "2026-11-01"):
        delta.write(storage, pl.DataFrame({"n": [1, 2]}), "silver", "p", spec, partition=key)
    counts = delta.read(storage, "silver", "p").group_by("date").len().sort("date").rows()
    assert counts == [("2026-11-01", 2), ("2026-11-02", 2)]


WRITER = """
import sys, json
import polars as pl
from pathlib import Path
from polster_core.run import delta
from polster_core.settings import Settings
from polster_core.storage import Storage
env, root, worker, rounds, rows = json.loads(sys.argv[1])
storage = Storage(Settings(Path(root), "demo", env))
spec = delta.TableSpec("merge", ("id",))
for r in range(rounds):
    # Keys 0-49 are shared by every worker (updated by all); each worker adds keys of its own.
    first = 1000 * (worker + 1) + r * rows
    ids = list(range(50)) + list(range(first, first + rows))
    frame = pl.DataFrame({"id": ids, "worker": [worker] * len(ids), "round": [r] * len(ids)})
    print("start", flush=True)
    delta.write(storage, frame, "silver", "t", spec)
    print("done", flush=True)
"""


def writer(env: dict, root: Path, worker: int, rounds: int, rows: int) -> subprocess.Popen:
    penv = {**os.environ, "PYTHONPATH": str(REPO)}
    penv.pop("POLSTER_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, json.dumps([env, str(root), worker, rounds, rows])],
        env=penv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_merges_lose_and_duplicate_no_row(where, tmp_path: Path) -> None:
    storage, env = where
    workers, rounds, rows = 4, 3, 20
    procs = [writer(env, tmp_path, w, rounds, rows) for w in range(workers)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert out.count("done") == rounds
    table = delta.read(storage, "silver", "t")
    expected = 50 + workers * rounds * rows
    assert table.height == expected
    assert table["id"].n_unique() == expected
    assert (
        table.filter(pl.col("id") >= 1000).group_by("worker").len()["len"].to_list()
        == [rounds * rows] * workers
    )


def test_a_writer_killed_mid_merge_leaves_the_previous_version(where, tmp_path: Path) -> None:
    storage, env = where
    spec = delta.TableSpec("merge", ("id",))
    delta.write(
        storage, pl.DataFrame({"id": [0], "worker": [9], "round": [0]}), "silver", "t", spec
    )
    before = delta.read(storage, "silver", "t")
    proc = writer(env, tmp_path, 0, 1, 400_000)  # large enough to be killed while it merges
    assert proc.stdout.readline().strip() == "start"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = delta.read(storage, "silver", "t")
    # Either it had not committed yet (the previous version) or it had (all of its rows):
    # never a part of a merge.
    assert after.equals(before) or after.height == 50 + 400_000
    # The next run completes, on top of whatever is there.
    rerun = writer(env, tmp_path, 0, 1, 400_000)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-2000:]
    final = delta.read(storage, "silver", "t")
    assert final.height == 50 + 400_000 and final["id"].n_unique() == final.height


def test_a_backend_without_delta_support_says_so_in_one_line(tmp_path: Path) -> None:
    class Plain:  # a third-party backend without delta_storage_options()
        name = "ftp"

        def uri(self, layer, name):
            return f"ftp://host/{layer}/{name}.parquet"

    storage = Storage(Settings(tmp_path, "demo", {}))
    storage._backend = Plain()
    with pytest.raises(PolsterError) as caught:
        delta.write(storage, pl.DataFrame({"id": [1]}), "silver", "c", delta.TableSpec())
    assert str(caught.value).startswith("storage backend 'ftp' cannot host Delta tables")
    assert "\n" not in str(caught.value)


# A project on each remote backend: runs merge into the bucket / container, and
# `remove-asset --purge-data` deletes the whole table folder, log included. -----------------


@pytest.mark.parametrize("kind", ["adls", "s3"])
def test_pipeline_merges_on_the_backend_and_purge_deletes_the_table(
    kind: str, request, tmp_path: Path
) -> None:
    from polster_core.testing.pipeline import grep_secrets, run_pipeline
    from polster_core.testing.projects import init_project, plugin_env, run_polster, set_env

    project = init_project(tmp_path, kind)
    env = env_for(kind, request, tmp_path / "p")
    env.pop("STORAGE_BACKEND")
    set_env(project, **env)
    result = run_polster(
        "add-asset", "--layer", "silver", "--name", "customers", "--deps", "example",
        "--incremental", "merge", "--unique-key", "event_id", "--no-input",
        cwd=project, env=plugin_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (project / "src/core/silver_customers.py").write_text(
        "import polars as pl\n\n\ndef transform(df: pl.DataFrame) -> pl.DataFrame:\n"
        '    """Every example event, by event_id."""\n'
        "    return df.unique(subset=['event_id'], keep='last')\n"
    )
    select = ("--select", "run_bronze_example,run_silver_customers")
    for _ in range(2):
        ran = run_pipeline(project, tmp_path / "home", *select)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    storage = Storage(Settings(project, "dna-platform", {"STORAGE_BACKEND": kind, **env}))
    assert delta.version_of(storage, "silver", "customers") == 1
    table = storage.read("silver", "customers")
    assert table.height == table["event_id"].n_unique() > 0
    secrets = [v for k, v in env.items() if "SECRET" in k or "CONNECTION" in k]
    assert grep_secrets([tmp_path / "home"], [ran.stdout, ran.stderr], secrets) == []

    removed = run_polster(
        "remove-asset", "--layer", "silver", "--name", "customers", "--purge-data",
        cwd=project, env=plugin_env(),
    )  # fmt: skip
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "(a Delta table: its files and _delta_log" in removed.stdout
    assert not delta.is_delta_table(storage, "silver", "customers")
    backend = storage.backend
    fs_path = backend.path("silver", "customers")[: -len(".parquet")]
    assert not backend.fs.exists(fs_path)
