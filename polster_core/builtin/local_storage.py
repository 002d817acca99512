"""Built-in storage backend ``local``: parquet files under the project's ``data/``."""

from polster_core.plugin_system.hookspecs import hookimpl
from polster_core.plugin_system.specs import StorageBackend


def _local(settings):
    from polster_core.run.storage import LocalBackend

    return LocalBackend(settings.root / settings.get("LOCAL_DATA_DIR", "data"))


@hookimpl
def polster_storage_backends(register):
    register(
        StorageBackend(
            name="local",
            description="Parquet files in the project's data/ directory",
            factory=_local,
            delta=True,
        )
    )
