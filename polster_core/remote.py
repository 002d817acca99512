"""A base class for storage backends on an fsspec filesystem, with polars' own cloud I/O.

A backend plugin subclasses :class:`FsspecBackend`, sets ``name`` and ``protocol``, and
implements ``filesystem()`` (and, for a cloud store polars reads natively, ``polars_options()``).
It then has everything :class:`polster_core.storage.Backend` asks for: tables at
``{root}/{layer}/{name}.parquet``, atomic writes, eager reads and lazy scans.

Writes go one of two ways (``write_with``), both atomic: a reader sees the old table or the
new one, never a part, and a write that fails or is killed leaves the old table readable.

- ``"upload"`` (object stores): the frame is encoded first (a DataFrame in memory, a LazyFrame
  streamed to a local temporary file), then sent with one ``pipe_file`` / ``put_file`` call.
  The store makes the object visible only when the upload completes (S3's PutObject or
  CompleteMultipartUpload, Azure's Put Block List), and fsspec sends that last step only
  after every byte arrived. Polars' own cloud writer is not used for writes: when the
  source of a streamed write fails part-way, it was seen to commit the partial object.
- ``"rename"`` (any filesystem): written to a hidden temporary name beside the target
  through the filesystem's file objects, then ``fs.mv`` into place (a rename on local and
  POSIX-like filesystems).

Reads and scans (``read_with``, ``scan_with``) use either polars' own cloud reader on the
URL (``"polars"``, with ``polars_options()``) or the filesystem's file objects (``"fsspec"``),
whichever is faster on the store.

Nothing here imports fsspec or polars until a method needs it.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

POLARS = "polars"
FSSPEC = "fsspec"
UPLOAD = "upload"
RENAME = "rename"
STAGED = "polster-upload"  # name of the local files LazyFrames are staged in before an upload


class FsspecBackend:
    """Parquet tables under ``root`` on an fsspec filesystem (``root`` has no protocol)."""

    name = "fsspec"
    protocol = "file"
    write_with = RENAME
    read_with = FSSPEC
    scan_with = FSSPEC

    def __init__(self, root: str):
        self.root = root.strip("/")
        self._fs = None

    # What a subclass provides -------------------------------------------------------------

    def filesystem(self) -> Any:
        """A new fsspec filesystem for this backend (called once, on first use)."""
        raise NotImplementedError(f"{type(self).__name__} must implement filesystem()")

    def polars_options(self) -> dict[str, Any]:
        """Keyword arguments for polars' cloud I/O: ``storage_options``, ``credential_provider``."""
        return {}

    def upload_options(self) -> dict[str, Any]:
        """Extra keyword arguments of ``fs.pipe_file`` / ``fs.put_file`` (e.g. retries)."""
        return {}

    # The Backend protocol -----------------------------------------------------------------

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = self.filesystem()
        return self._fs

    def path(self, layer: str, name: str) -> str:
        """The table's path on the filesystem: ``{root}/{layer}/{name}.parquet``."""
        return "/".join(part for part in (self.root, layer, f"{name}.parquet") if part)

    def uri(self, layer: str, name: str) -> str:
        return f"{self.protocol}://{self.path(layer, name)}"

    def exists(self, layer: str, name: str) -> bool:
        return bool(self.fs.exists(self.path(layer, name)))

    def delete(self, layer: str, name: str) -> None:
        path = self.path(layer, name)
        if self.fs.exists(path):
            self.fs.rm(path)

    def write(self, frame: Any, layer: str, name: str) -> None:
        if self.write_with == UPLOAD:
            self._write_uploaded(frame, self.path(layer, name))
        else:
            self._write_renamed(frame, self.path(layer, name))

    def read(self, layer: str, name: str) -> Any:
        import polars as pl

        if self.read_with == POLARS:
            return pl.read_parquet(self.uri(layer, name), **self.polars_options())
        with self.fs.open(self.path(layer, name), "rb") as handle:
            return pl.read_parquet(handle)

    def scan(self, layer: str, name: str) -> Any:
        import polars as pl

        if self.scan_with == POLARS:
            return pl.scan_parquet(self.uri(layer, name), **self.polars_options())
        if not self.exists(layer, name):
            raise FileNotFoundError(self.uri(layer, name))
        return pl.scan_parquet(self.fs.open(self.path(layer, name), "rb"))

    # Writing ------------------------------------------------------------------------------

    def _write_uploaded(self, frame: Any, path: str) -> None:
        import polars as pl

        if not isinstance(frame, pl.LazyFrame):
            buffer = io.BytesIO()
            frame.write_parquet(buffer)
            self.fs.pipe_file(path, buffer.getvalue(), **self.upload_options())
            return
        from .storage import new_temp_file, sweep_dead_writers

        # Staged on local disk: a writer killed here leaves the file, which the next one removes.
        staging = Path(tempfile.gettempdir())
        sweep_dead_writers(staging, STAGED)
        tmp = new_temp_file(staging, STAGED)
        try:
            frame.sink_parquet(tmp)
            self.fs.put_file(tmp, path, **self.upload_options())
        finally:
            os.unlink(tmp)

    def _write_renamed(self, frame: Any, path: str) -> None:
        import polars as pl

        from .storage import dead_writers_file, temp_name

        parent, _, filename = path.rpartition("/")
        tmp = f"{parent}/{temp_name(filename, '.tmp')}" if parent else temp_name(filename, ".tmp")
        fs = self.fs
        if parent:
            try:
                fs.makedirs(parent, exist_ok=True)
            except (OSError, NotImplementedError):  # object stores have no directories
                pass
            try:  # what writers of this host that were killed left behind
                for stale in fs.glob(f"{parent}/.{filename}.*.tmp"):
                    if dead_writers_file(stale.rpartition("/")[2], filename, ".tmp"):
                        fs.rm(stale)
            except Exception:  # best effort: never fail a write for it
                pass
        try:
            with fs.open(tmp, "wb") as handle:
                if isinstance(frame, pl.LazyFrame):
                    frame.sink_parquet(handle)
                else:
                    frame.write_parquet(handle)
            fs.mv(tmp, path)
        except BaseException:
            try:
                fs.rm(tmp)
            except Exception:  # the temporary file may never have been created
                pass
            raise
