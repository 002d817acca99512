"""The example pipeline of a `polster init --storage s3` project, on a real moto S3 server."""

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
from tests.storage_servers import MOTO_KEY_ID, MOTO_SECRET

SECRETS = [MOTO_KEY_ID, MOTO_SECRET]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return init_project(tmp_path_factory.mktemp("s3"), "s3")


def s3_env(server, bucket: str) -> dict[str, str]:
    return {
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": server.endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": MOTO_KEY_ID,
        "S3_SECRET_ACCESS_KEY": MOTO_SECRET,
        "S3_MAX_RETRIES": "0",
    }


def object_table(server, bucket: str, key: str) -> pl.DataFrame:
    body = server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return pl.read_parquet(io.BytesIO(body))


def test_init_adds_the_plugin_and_its_settings_with_secrets_only_in_dotenv(project):
    pyproject = (project / "pyproject.toml").read_text()
    assert '"polster-s3>=0.1.1,<0.2"' in pyproject and 'storage = "s3"' in pyproject
    env = (project / ".env").read_text()
    example = (project / ".env.example").read_text()
    for name in (
        "S3_BUCKET",
        "S3_BASE_PATH",
        "S3_REGION",
        "S3_ENDPOINT_URL",
        "S3_ACCESS_KEY_ID",
        "S3_SECRET_ACCESS_KEY",
        "S3_FALLBACK_TO_LOCAL",
    ):
        assert f"\n{name}=" in env and f"\n{name}=" in example
    assert "STORAGE_BACKEND=s3" in env and "S3_SECRET_ACCESS_KEY=\n" in example
    assert "| `S3_BUCKET` |" in (project / "README.md").read_text()


def test_pipeline_writes_the_documented_paths_and_local_samples(project, moto, tmp_path):
    bucket = moto.create_bucket(f"pipe-{uuid.uuid4().hex[:10]}")
    set_env(project, **s3_env(moto, bucket))  # the secrets live in .env, as for a user
    data = tmp_path / "data"
    result = run_pipeline(project, tmp_path / "dagster", LOCAL_DATA_DIR=str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Succeeded: 3 materialised, 0 failed" in result.stdout

    keys = [f"dna-platform/data/{layer}/example.parquet" for layer in LAYERS]
    assert moto.keys(bucket) == sorted(keys)
    tables = {
        layer: object_table(moto, bucket, key) for layer, key in zip(LAYERS, keys, strict=True)
    }
    assert tables["bronze"].height == 1_025 and tables["silver"].height == 980
    assert tables["gold"]["total_events"].sum() == 980
    for layer, frame in tables.items():
        sample = pl.read_parquet(data / "_samples" / layer / "example.sample.parquet")
        assert sample.equals(frame.head(50))
        assert not (data / layer / "example.parquet").exists()

    metadata = materializations(tmp_path / "dagster")
    for layer, key in zip(LAYERS, keys, strict=True):
        assert metadata[layer]["uri"] == f"s3://{bucket}/{key}"
        assert metadata[layer]["storage_backend"] == "s3"
        assert metadata[layer]["fell_back_to_local"] is False
    texts = [result.stdout, result.stderr, str(metadata)]
    assert grep_secrets([project, tmp_path], texts, SECRETS) == []


def test_disable_local_sample_is_honoured(project, moto, tmp_path):
    bucket = moto.create_bucket(f"pipe-{uuid.uuid4().hex[:10]}")
    result = run_pipeline(
        project,
        tmp_path / "dagster",
        LOCAL_DATA_DIR=str(tmp_path / "data"),
        DISABLE_LOCAL_SAMPLE="true",
        S3_BASE_PATH="nosample",
        **s3_env(moto, bucket),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(moto.keys(bucket, "nosample/")) == 3
    assert not (tmp_path / "data" / "_samples").exists()


def test_fallback_when_s3_dies_mid_run(project, moto_factory, tmp_path):
    server = moto_factory()
    bucket = server.create_bucket("fallback")
    add_kill_switch(project)
    data = tmp_path / "data"
    result = run_pipeline(
        project,
        tmp_path / "dagster",
        LOCAL_DATA_DIR=str(data),
        S3_FALLBACK_TO_LOCAL="true",
        POLSTER_TEST_KILL_PID=str(server.pid),
        **s3_env(server, bucket),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not server.running
    assert "Succeeded: 3 materialised, 0 failed" in result.stdout
    assert "WARNING: writing bronze/example to s3 at s3://fallback/" in result.stderr
    assert pl.read_parquet(data / "bronze" / "example.parquet").height == 1_025
    assert pl.read_parquet(data / "silver" / "example.parquet").height == 980
    metadata = materializations(tmp_path / "dagster")
    for layer in LAYERS:
        assert metadata[layer]["fell_back_to_local"] is True
        assert metadata[layer]["uri"] == str(data / layer / "example.parquet")
    texts = [result.stdout, result.stderr, str(metadata)]
    assert grep_secrets([project, tmp_path], texts, SECRETS) == []


def test_without_fallback_the_run_fails_clearly(project, moto_factory, tmp_path):
    server = moto_factory()
    bucket = server.create_bucket("nofallback")
    add_kill_switch(project)
    data = tmp_path / "data"
    result = run_pipeline(
        project,
        tmp_path / "dagster",
        LOCAL_DATA_DIR=str(data),
        POLSTER_TEST_KILL_PID=str(server.pid),
        **s3_env(server, bucket),
    )
    assert result.returncode == 1
    assert "FAILED: 0 materialised, 1 failed, 2 skipped" in result.stdout
    assert (
        "writing bronze/example to s3 at s3://nofallback/dna-platform/data/bronze/"
        "example.parquet failed: " in result.stderr
    )
    assert "set S3_FALLBACK_TO_LOCAL=true" in result.stderr
    assert not (data / "bronze" / "example.parquet").exists()
    # moto keeps its objects in memory, so a restart cannot show what was left: the contract
    # test (a failing write on a live server) and the killed write below check that instead.
    assert grep_secrets([project, tmp_path], [result.stdout, result.stderr], SECRETS) == []


def test_a_killed_write_leaves_the_previous_version(moto, tmp_path):
    from polster_core.plugins import Plugins
    from polster_core.settings import Settings
    from polster_core.storage import Storage
    from polster_core.testing import table

    bucket = moto.create_bucket(f"kill-{uuid.uuid4().hex[:10]}")
    env = {
        "STORAGE_BACKEND": "s3",
        **s3_env(moto, bucket),
        "S3_BASE_PATH": "kill",
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "DISABLE_LOCAL_SAMPLE": "true",
    }
    storage = Storage(Settings(tmp_path, "demo", env), plugins=Plugins(autoload=True))
    storage.write(table(10), "bronze", "big")
    kill_mid_write(tmp_path, env, lambda: moto.multipart_uploads(bucket) > 0)
    assert storage.read("bronze", "big").equals(table(10))
    assert moto.keys(bucket) == ["kill/bronze/big.parquet"]


def test_a_lazy_write_killed_while_staging_leaves_a_file_the_next_one_removes(
    moto, tmp_path, monkeypatch
):
    """A LazyFrame is staged on local disk before its upload: a writer killed then leaves
    its staging file, which the next staged write removes (never a live writer's)."""
    import tempfile

    from polster_core.plugins import Plugins
    from polster_core.settings import Settings
    from polster_core.storage import Storage
    from polster_core.testing import table

    bucket = moto.create_bucket(f"stage-{uuid.uuid4().hex[:10]}")
    staging = tmp_path / "staging"
    staging.mkdir()
    env = {
        "STORAGE_BACKEND": "s3",
        **s3_env(moto, bucket),
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "DISABLE_LOCAL_SAMPLE": "true",
        "TMPDIR": str(staging),
    }
    storage = Storage(Settings(tmp_path, "demo", env), plugins=Plugins(autoload=True))
    storage.write(table(10), "bronze", "big")

    def staged():
        return any(p.stat().st_size > 0 for p in staging.glob(".polster-upload.*.parquet.tmp"))

    kill_mid_write(tmp_path, env, staged, lazy=True, rows=3_000_000)
    assert storage.read("bronze", "big").equals(table(10))
    assert len(list(staging.iterdir())) == 1
    monkeypatch.setattr(tempfile, "tempdir", str(staging))
    storage.write(table(5).lazy(), "bronze", "big")
    assert list(staging.iterdir()) == []
    assert storage.read("bronze", "big").equals(table(5))


def test_lazy_frames_stream_to_s3_and_come_back_as_scans(moto, tmp_path, monkeypatch):
    from tests.remote_pipeline import run_lazy_assets

    bucket = moto.create_bucket(f"lazy-{uuid.uuid4().hex[:10]}")
    env = {
        "STORAGE_BACKEND": "s3",
        **s3_env(moto, bucket),
        "S3_BASE_PATH": "lazy",
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
    }
    seen = run_lazy_assets(tmp_path, env, monkeypatch)
    assert seen["type"] is pl.LazyFrame and seen["rows"] == 10_000
    assert seen["run_silver_lazy"]["uri"] == f"s3://{bucket}/lazy/silver/lazy.parquet"
    assert seen["run_silver_lazy"]["dagster/row_count"] == 10_000
    assert moto.keys(bucket) == ["lazy/bronze/lazy.parquet", "lazy/silver/lazy.parquet"]
    assert object_table(moto, bucket, "lazy/silver/lazy.parquet").columns[-1] == "double"
