"""The storage contract every backend passes, on a real moto S3 server."""

from __future__ import annotations

import uuid

import pytest

from polster_core.plugins import Plugins
from polster_core.settings import Settings
from polster_core.storage import Storage
from polster_core.testing import StorageContract
from polster_core.testing.servers import MOTO_KEY_ID, MOTO_SECRET

BUCKET = "contract"


@pytest.fixture(scope="module")
def plugins():
    return Plugins(autoload=True)


def s3_env(moto) -> dict[str, str]:
    return {
        "S3_ENDPOINT_URL": moto.endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": MOTO_KEY_ID,
        "S3_SECRET_ACCESS_KEY": MOTO_SECRET,
    }


class TestS3Contract(StorageContract):
    @pytest.fixture
    def make_storage(self, moto, plugins, tmp_path):
        moto.create_bucket(BUCKET)
        base = f"contract/{uuid.uuid4().hex[:8]}"

        def make(**env):
            settings = Settings(
                tmp_path,
                "demo",
                {
                    "STORAGE_BACKEND": "s3",
                    "S3_BUCKET": BUCKET,
                    "S3_BASE_PATH": base,
                    "LOCAL_DATA_DIR": str(tmp_path / "data"),
                    **s3_env(moto),
                    **env,
                },
            )
            return Storage(settings, plugins=plugins)

        return make
