"""The ``local`` backend: parquet files under ``data/{layer}/{name}.parquet``, written to a
temporary file beside the table (named after its writer) and renamed into place, so a failed or
killed write leaves the previous version; the next write sweeps dead writers' leftovers.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets as _random
import shutil
import socket
from pathlib import Path, PurePath
from typing import Any

from ..exceptions import PolsterError
from .io_errors import no_space


class LocalBackend:
    """Parquet files under ``data/{layer}/{name}.parquet``, written to a temp file, then renamed.

    The temporary file, ``.{name}.{pid}-{host}.{random}.parquet.tmp`` beside the table (beside
    a partitioned table's folder for a partition's file: see :func:`staging`), names its
    writer: a writer that was killed cannot remove it, so the next write of the table removes
    those of writers of this host that are no longer running (never a live one's).
    """

    name = "local"

    def __init__(self, base: Path):
        self.base = Path(base)

    def path(self, layer: str, name: str) -> Path:
        return self.base / layer / f"{name}.parquet"

    def uri(self, layer: str, name: str) -> str:
        return str(self.path(layer, name))

    def exists(self, layer: str, name: str) -> bool:
        return self.path(layer, name).is_file()

    def refuse_link_out(self, layer: str, name: str) -> None:
        """Raise PolsterError (one line) when table ``layer``/``name``'s file or folder is a
        link, or under one, leading out of the data folder: a table is written inside it only.
        (The data folder itself may be anywhere: LOCAL_DATA_DIR, or ``data`` a link.)"""
        for path in (self.path(layer, name), self.base / layer / name):
            target = leads_out(path, self.base)
            if target is not None:
                raise PolsterError(
                    f"{path} leads out of the data folder (to {target}): remove the link; "
                    f"{layer}/{name} is written inside the project only; nothing was written"
                )

    def write(self, frame: Any, layer: str, name: str) -> None:
        import polars as pl

        self.refuse_link_out(layer, name)
        target = self.path(layer, name)
        for folder in (self.base, target.parent):
            if folder.exists() and not folder.is_dir():
                raise PolsterError(f"{folder} is a file, not a folder: move it out of the way")
        made = [f for f in (target.parent, self.base) if not f.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        stage, stem = staging(target.parent, name)
        sweep_dead_writers(stage, stem)
        try:
            tmp = new_temp_file(stage, stem)
        except BaseException:
            _remove_empty(made)
            raise
        try:
            if isinstance(frame, pl.LazyFrame):
                frame.sink_parquet(tmp)
            else:
                frame.write_parquet(tmp)
            os.replace(tmp, target)
        except BaseException as exc:
            # polars does not always say the disk was full (e.g. "Invalid thrift: transport
            # error"): look, before the temporary file gives its space back.
            full = isinstance(exc, Exception) and not no_space(exc) and _disk_full(target.parent)
            Path(tmp).unlink(missing_ok=True)
            _remove_empty(made)  # a failed write leaves the tree as it was
            if full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target)) from exc
            raise

    def read(self, layer: str, name: str) -> Any:
        import polars as pl

        return pl.read_parquet(self._existing(layer, name))

    def scan(self, layer: str, name: str) -> Any:
        import polars as pl

        return pl.scan_parquet(self._existing(layer, name))

    def _existing(self, layer: str, name: str) -> Path:
        path = self.path(layer, name)
        if not path.is_file():
            raise PolsterError(
                f"no data for {layer}/{name} at {path}: materialise that asset first "
                f"(python src/core/{layer}_{name}.py or python run_polster.py)"
            )
        return path


def leads_out(path: Path, base: Path) -> str | None:
    """Where ``path`` really leads when that is outside ``base`` (resolved: a link, or a
    folder above it that is one), "a loop of links" for a loop; None when it stays inside."""
    try:
        target = path.resolve()
        return None if target.is_relative_to(base.resolve()) else str(target)
    except (OSError, RuntimeError):  # a loop of links: it leads nowhere inside
        return "a loop of links"


# Temporary files name their writer: ``.{name}.{pid}-{host}.{random}{suffix}``, so that a later
# write can remove those a killed writer left, and never those of a live one.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


TEMP_SUFFIX = ".parquet.tmp"


_HIVE_FOLDER = re.compile(r"^\w+=.+$")


def staging(folder: PurePath, name: str) -> tuple[Any, str]:
    """Where a write of ``name`` into ``folder`` puts its temporary file, and the name that
    file is made for: ``folder`` and ``name``; but for a partition's file
    (``{table}/date=KEY/data``), the folder holding the table's folder and
    ``{table}.date=KEY.data``, so a reader of the table's folder (polars' hive scan reads every
    file in it) never meets a half-written file, nor one a killed writer left behind."""
    if not _HIVE_FOLDER.match(folder.name):
        return folder, name
    parts = [name]
    while _HIVE_FOLDER.match(folder.name):
        parts.insert(0, folder.name)
        folder = folder.parent
    parts.insert(0, folder.name)
    return folder.parent, ".".join(parts)


def temp_name(name: str, suffix: str = TEMP_SUFFIX) -> str:
    """A new temporary file name for ``name``, naming this process and host."""
    return f".{name}.{os.getpid()}-{_HOST}.{_random.token_hex(4)}{suffix}"


def new_temp_file(folder: Path, name: str, suffix: str = TEMP_SUFFIX) -> str:
    """Create an empty temporary file for ``name`` in ``folder`` (see :func:`temp_name`).

    Created like any new file (mode 0666 less the umask), so the table renamed from it is
    readable by whoever may read the folder's other files.
    """
    while True:
        path = folder / temp_name(name, suffix)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return str(path)


def dead_writers_file(filename: str, name: str, suffix: str = TEMP_SUFFIX) -> bool:
    """Whether ``filename`` is a temporary file of ``name`` whose writer, a process of this
    host, is no longer running."""
    if os.name == "nt":  # os.kill(pid, 0) would stop the process there, not probe it
        return False
    pattern = rf"^\.{re.escape(name)}\.(\d+)-{_HOST}\.[0-9a-f]+{re.escape(suffix)}$"
    match = re.match(pattern, filename)
    return bool(match) and not _running(int(match.group(1)))


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: not a writer any more
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def sweep_dead_writers(folder: Path, name: str, suffix: str = TEMP_SUFFIX) -> list[Path]:
    """Remove ``name``'s temporary files in ``folder`` whose writers are dead (best effort)."""
    removed = []
    for path in folder.glob(f".*{suffix}"):
        if dead_writers_file(path.name, name, suffix):
            try:
                path.unlink(missing_ok=True)
            except OSError:  # not ours to remove after all: leave it
                continue
            removed.append(path)
    return removed


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def _disk_full(folder: Path) -> bool:
    """Whether the disk holding ``folder`` has (next to) no space left."""
    try:
        return shutil.disk_usage(folder).free < 64 * 1024
    except OSError:
        return False
