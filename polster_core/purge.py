"""``remove-asset --purge-data`` on a remote backend: the asset's table where the project's
``STORAGE_BACKEND`` keeps it, found and deleted through that backend.

A table is the unpartitioned ``{layer}/{name}.parquet`` and/or the partitioned folder
``{layer}/{name}/`` (every ``date=KEY/data.parquet``). Deleting goes through the backend's
``delete_folder`` / ``delete`` when it has them, fsspec otherwise (:mod:`polster_core.partitions`),
so a third-party backend gets it without new code. Loaded only when --purge-data meets a remote
backend: that is when the backend's SDK is imported, never for ``--help`` or other commands.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .errors import PolsterError


@dataclass
class RemoteTable:
    """What the backend stores of one asset's table."""

    backend: str
    layer: str
    name: str
    folder: str  # the partitioned folder's URI ({layer}/{name}/)
    file: str  # the unpartitioned file's URI ({layer}/{name}.parquet)
    partitions: int = 0  # partitions stored in the folder
    has_file: bool = False  # whether the unpartitioned file is stored
    storage: Any = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return not self.partitions and not self.has_file

    def describe(self) -> list[str]:
        """One line per thing deleted, as the plan's lines read."""
        lines = []
        if self.partitions:
            lines.append(
                f"  delete {self.folder} ({self.partitions} partition(s), on {self.backend})"
            )
        if self.has_file:
            lines.append(f"  delete {self.file} (on {self.backend})")
        return lines

    def delete(self) -> None:
        """Delete the folder (every partition) and the file; one clear line if that fails."""
        from .partitions import delete_file, delete_folder

        backend = self.storage.backend
        for what, uri, present, remove in (
            ("partitions", self.folder, self.partitions, delete_folder),
            ("table", self.file, self.has_file, delete_file),
        ):
            if not present:
                continue
            try:
                remove(backend, self.layer, self.name)
            except Exception as exc:
                raise self.storage._failure(
                    f"deleting the {what} of {self.layer}/{self.name} at {uri} on "
                    f"{self.backend} failed: {self.storage._describe(exc)}; the asset was not "
                    "removed: run the command again when the store can be reached",
                    exc,
                ) from None


def find_remote_table(project: Any, layer: str, name: str, backend: str) -> RemoteTable:
    """Ask ``backend`` (with the project's settings: the environment over ``.env``) what it
    stores of ``layer/name``."""
    from .partitions import PartitionedTable
    from .settings import Settings, load_dotenv
    from .storage import Storage

    load_dotenv(project.root)  # as the project's own scripts do: the environment wins
    env = {**os.environ, "STORAGE_BACKEND": backend}
    storage = Storage(Settings(project.root, project.name, env))
    table = PartitionedTable(storage, layer, name)
    found = RemoteTable(
        backend,
        layer,
        name,
        folder=table.uri(),
        file=storage.backend.uri(layer, name),
        storage=storage,
    )
    try:
        found.partitions = len(table.keys())
        found.has_file = bool(storage.backend.exists(layer, name))
    except PolsterError:
        raise
    except Exception as exc:
        raise storage._failure(
            f"cannot see what {backend} stores of {layer}/{name} at {found.folder}: "
            f"{storage._describe(exc)}; nothing was removed",
            exc,
        ) from None
    return found
