"""``remove-asset --purge-data``: the asset's table deleted, locally (:class:`LocalTable`) and
on a remote backend: the asset's table where the project's ``STORAGE_BACKEND`` keeps it, found
and deleted through that backend.

A table is the unpartitioned ``{layer}/{name}.parquet`` and/or the partitioned folder
``{layer}/{name}/`` (every ``date=KEY/data.parquet``). Deleting goes through the backend's
``delete_folder`` / ``delete`` when it has them, fsspec otherwise (:mod:`polster_core.partitions`),
so a third-party backend gets it without new code. The run time (the storage, the backend's
SDK) is loaded only when --purge-data meets a remote backend, never for ``--help`` or other
commands.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import PolsterError


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
    delta: bool = False  # the folder is a Delta table (issue 29): deleted whole, log included

    @property
    def empty(self) -> bool:
        return not self.partitions and not self.has_file and not self.delta

    def describe(self) -> list[str]:
        """One line per thing deleted, as the plan's lines read."""
        lines = []
        if self.delta:
            lines.append(
                f"  delete {self.folder} (a Delta table: its files and _delta_log, on "
                f"{self.backend})"
            )
        elif self.partitions:
            lines.append(
                f"  delete {self.folder} ({self.partitions} partition(s), on {self.backend})"
            )
        if self.has_file:
            lines.append(f"  delete {self.file} (on {self.backend})")
        return lines

    def delete(self) -> None:
        """Delete the folder (every partition) and the file; one clear line if that fails."""
        from ..run.partitions import delete_file, delete_folder

        backend = self.storage.backend
        for what, uri, present, remove in (
            ("partitions", self.folder, self.partitions or self.delta, delete_folder),
            ("table", self.file, self.has_file, delete_file),
        ):
            if not present:
                continue
            try:
                remove(backend, self.layer, self.name)
            except Exception as exc:
                raise self.storage.user_error(
                    f"deleting the {what} of {self.layer}/{self.name} at {uri} on "
                    f"{self.backend} failed: {self.storage.describe(exc)}; the asset was not "
                    "removed: run the command again when the store can be reached",
                    exc,
                ) from None


def find_remote_table(project: Any, layer: str, name: str, backend: str) -> RemoteTable:
    """Ask ``backend`` (with the project's settings: the environment over ``.env``) what it
    stores of ``layer/name``."""
    from ..run.partitions import PartitionedTable
    from ..run.settings import Settings, load_dotenv
    from ..run.storage import Storage

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
        from ..run.delta import is_delta_table

        found.delta = is_delta_table(storage, layer, name)
    except PolsterError:
        raise
    except Exception as exc:
        raise storage.user_error(
            f"cannot see what {backend} stores of {layer}/{name} at {found.folder}: "
            f"{storage.describe(exc)}; nothing was removed",
            exc,
        ) from None
    return found


def table_units(files: list[Path], layer: str, name: str) -> list[Path]:
    """What ``--purge-data`` deletes of the local ``files`` of ``layer/name`` (``stored_data``):
    each table folder (``{layer}/{name}/``, ``_samples/{layer}/{name}/``) whole, and each file
    outside one."""
    found: list[Path] = []
    for path in files:
        unit = path
        for parent in path.parents:
            if parent.name == name and parent.parent.name == layer:
                unit = parent  # a file inside the table's folder: the folder goes whole
                break
        if unit not in found:
            _not_linked(unit)
            found.append(unit)
    return found


def _not_linked(unit: Path) -> None:
    """Refuse a table folder that is, or whose Delta log is, a symlink (a teammate's commit):
    what it leads to is not the project's to delete."""
    for part in (unit, unit / "_delta_log"):
        if part.is_symlink():
            raise PolsterError(
                f"{part} is a symlink (to {part.resolve()}): --purge-data deletes only the "
                "project's own files; remove the link yourself, then run this again; nothing "
                "was removed"
            )


@dataclass
class LocalTable:
    """Local data outside the project (``LOCAL_DATA_DIR`` elsewhere), deleted without copying.

    Data inside the project is deleted by the plan itself (:meth:`Plan.purge`, journaled with
    the rest). Out here, each of ``units`` (see :func:`table_units`) is first renamed aside in
    its own folder (one rename: atomic, no space needed), then the project's files are changed,
    then what was set aside is deleted. Nothing is ever written inside a partition folder; a
    failed or interrupted change puts everything back.
    """

    root: Path
    units: list[Path]
    aside: list[tuple[Path, Path]] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per file deleted, as the plan's lines read."""
        lines = []
        for unit in self.units:
            files = sorted(unit.rglob("*")) if unit.is_dir() and not unit.is_symlink() else [unit]
            for path in files:
                if path.is_dir() and not path.is_symlink():
                    continue
                try:
                    shown = path.relative_to(self.root).as_posix()
                except ValueError:
                    shown = str(path)
                lines.append(f"  delete {shown}")
        return lines

    def set_aside(self) -> None:
        for unit in self.units:
            aside = unit.with_name(f".{unit.name}.polster-purge")
            try:
                if os.path.lexists(aside):  # left by a purge a kill cut short
                    _remove(aside)
                os.rename(unit, aside)
            except OSError as exc:
                self.put_back()
                raise PolsterError(
                    f"cannot delete {unit}: {exc.strerror or exc}; nothing was removed"
                ) from None
            self.aside.append((unit, aside))

    def put_back(self) -> None:
        while self.aside:
            unit, aside = self.aside.pop()
            os.rename(aside, unit)

    def finish(self) -> None:
        """Delete what was set aside; the asset is removed by now, so a failure says where."""
        for _unit, aside in self.aside:
            try:
                _remove(aside)
            except OSError as exc:
                raise PolsterError(
                    f"the asset was removed, but deleting its data at {aside} failed: "
                    f"{exc.strerror or exc}; delete it by hand"
                ) from None
        self.aside = []


def _remove(path: Path) -> None:
    """Delete ``path``: a file or a link (never what it points to), or a folder's tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
