"""The storage contract every backend passes, on a real Azurite, with each kind of credential."""

from __future__ import annotations

import uuid

import pytest

from polster_core.plugins import Plugins
from polster_core.settings import Settings
from polster_core.storage import Storage
from polster_core.testing import StorageContract
from polster_core.testing.servers import AZURITE_ACCOUNT, AZURITE_KEY

CONTAINER = "contract"


@pytest.fixture(scope="module")
def plugins():
    return Plugins(autoload=True)


def adls_env(azurite, auth: str, container: str = CONTAINER) -> dict[str, str]:
    """The ADLS_* settings that reach Azurite with one kind of credential."""
    if auth == "connection string":
        return {"ADLS_CONNECTION_STRING": azurite.connection_string}
    env = {"ADLS_ACCOUNT_NAME": AZURITE_ACCOUNT, "ADLS_ENDPOINT_URL": azurite.endpoint}
    if auth == "account key":
        return {**env, "ADLS_ACCOUNT_KEY": AZURITE_KEY}
    return {**env, "ADLS_SAS_TOKEN": azurite.sas_token(container)}


class TestAdlsContract(StorageContract):
    @pytest.fixture(params=["connection string", "account key", "SAS token"])
    def make_storage(self, request, azurite, plugins, tmp_path):
        azurite.create_container(CONTAINER)
        base = f"contract/{uuid.uuid4().hex[:8]}"
        auth_env = adls_env(azurite, request.param)

        def make(**env):
            settings = Settings(
                tmp_path,
                "demo",
                {
                    "STORAGE_BACKEND": "adls",
                    "ADLS_CONTAINER": CONTAINER,
                    "ADLS_BASE_PATH": base,
                    "LOCAL_DATA_DIR": str(tmp_path / "data"),
                    **auth_env,
                    **env,
                },
            )
            storage = Storage(settings, plugins=plugins)
            assert storage.backend.config.auth == request.param
            return storage

        return make
