"""The example pipeline of a `polster init --storage s3` project, on a real moto S3 server:
Polster's pipeline contract, and what only S3 does (a LazyFrame staged on local disk)."""

from __future__ import annotations

import io
import tempfile

import polars as pl
import pytest

from polster_core.testing import table
from polster_core.testing.pipeline import PipelineContract, RemoteBackend, storage_on, unique
from polster_core.testing.servers import MOTO_KEY_ID, MOTO_SECRET
from polster_core.testing.writes import kill_mid_write


class MotoBackend(RemoteBackend):
    def new_location(self, name=None):
        return self.server.create_bucket(name or unique())

    def env(self, location):
        return {
            "S3_BUCKET": location,
            "S3_ENDPOINT_URL": self.server.endpoint,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": MOTO_KEY_ID,
            "S3_SECRET_ACCESS_KEY": MOTO_SECRET,
            "S3_MAX_RETRIES": "0",
        }

    def uri(self, location, key):
        return f"s3://{location}/{key}"

    def keys(self, location, prefix=""):
        return self.server.keys(location, prefix)

    def read(self, location, key):
        body = self.server.client().get_object(Bucket=location, Key=key)["Body"].read()
        return pl.read_parquet(io.BytesIO(body))

    def write_under_way(self, location, key):
        return self.server.multipart_uploads(location) > 0

    def secrets(self, env):
        return [env["S3_ACCESS_KEY_ID"], env["S3_SECRET_ACCESS_KEY"]]


class TestS3Pipeline(PipelineContract):
    storage = "s3"
    requirement = '"polster-s3>=0.1.1,<0.2"'
    settings = (
        "S3_BUCKET",
        "S3_BASE_PATH",
        "S3_REGION",
        "S3_ENDPOINT_URL",
        "S3_ACCESS_KEY_ID",
        "S3_SECRET_ACCESS_KEY",
        "S3_FALLBACK_TO_LOCAL",
    )
    secret_settings = ("S3_SECRET_ACCESS_KEY",)

    @pytest.fixture
    def backend(self, moto):
        return MotoBackend(moto)

    @pytest.fixture
    def backend_factory(self, moto_factory):
        return lambda: MotoBackend(moto_factory())


def test_a_lazy_write_killed_while_staging_leaves_a_file_the_next_one_removes(
    moto, tmp_path, monkeypatch
):
    """A LazyFrame is staged on local disk before its upload: a writer killed then leaves
    its staging file, which the next staged write removes (never a live writer's)."""
    backend = MotoBackend(moto)
    bucket = backend.new_location(unique("stage"))
    staging = tmp_path / "staging"
    staging.mkdir()
    env = {
        "STORAGE_BACKEND": "s3",
        **backend.env(bucket),
        "LOCAL_DATA_DIR": str(tmp_path / "data"),
        "DISABLE_LOCAL_SAMPLE": "true",
        "TMPDIR": str(staging),
    }
    storage = storage_on(tmp_path, env)
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
