"""Polster storage backend ``adls``: Azure Data Lake Storage Gen2 (and plain Blob Storage).

Tables live at ``az://{ADLS_CONTAINER}/{ADLS_BASE_PATH}/{layer}/{name}.parquet``. Credentials,
first match wins: ``ADLS_CONNECTION_STRING``, ``ADLS_SAS_TOKEN``, ``ADLS_ACCOUNT_KEY``, else
Azure's default credential chain (environment service principal, workload or managed
identity, Azure CLI login), so production needs no key in any file.

Importing this module is cheap: adlfs, azure-identity and polars load when a backend is made.
"""

from polster_core import hookimpl
from polster_core.specs import Setting, StorageBackend, compatible_requirement

__version__ = "0.1.1"

SETTINGS = (
    Setting(
        "ADLS_ACCOUNT_NAME",
        "Azure storage account",
        example="your_storage_account",
        one_of="account",
    ),
    Setting(
        "ADLS_CONTAINER",
        "Container name (the container must exist)",
        example="your_container",
        required=True,
    ),
    Setting(
        "ADLS_BASE_PATH",
        "Path within container (empty: <project name>/data)",
    ),
    Setting(
        "ADLS_ACCOUNT_KEY",
        "Azure access key; leave empty to use a SAS token, a connection string or Azure's "
        "default credential chain (managed identity, service principal, az login)",
        secret=True,
        example="your_key_here",
    ),
    Setting(
        "ADLS_SAS_TOKEN",
        "SAS token of the account or container, instead of the key",
        secret=True,
    ),
    Setting(
        "ADLS_CONNECTION_STRING",
        "Storage connection string, instead of the name and key (also for the Azurite emulator)",
        secret=True,
        one_of="account",
    ),
    Setting(
        "ADLS_ENDPOINT_URL",
        "Blob endpoint, for sovereign clouds, private endpoints or Azurite (empty: "
        "https://<account>.blob.core.windows.net)",
    ),
    Setting(
        "ADLS_MAX_RETRIES",
        "Retries of a failed request before a write fails or falls back, 1 s, 3 s, 5 s ... "
        "apart (empty: the Azure SDK's 3, 15 s and more apart; 0 fails at once)",
    ),
    Setting("ADLS_FALLBACK_TO_LOCAL", "Fallback on ADLS failure", default="false"),
)


def _factory(settings):
    from .backend import AdlsBackend

    return AdlsBackend.from_settings(settings)


@hookimpl
def polster_storage_backends(register):
    register(
        StorageBackend(
            name="adls",
            description="Azure Data Lake Storage Gen2 / Blob Storage (adlfs + polars)",
            factory=_factory,
            settings=SETTINGS,
            requirement=compatible_requirement("polster-adls", __version__),
            delta=True,
        )
    )
