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
  POSIX-like filesystems). File objects whose ``write()`` returns ``None`` (paramiko's SFTP
  files) are fine, and an exception the file object raises is the error, not polars' summary.

One backend object serves every thread of its process: ``filesystem()`` is called once per
backend object (under a lock, however many threads ask at once), and its filesystem is shared.
A backend whose filesystem is not safe to use from several threads at once (fsspec's FTP, on
one ``ftplib`` connection) sets ``thread_safe = False``: then each thread gets a filesystem of
its own, ``filesystem()`` being called once per backend object and thread.

A backend on a server (``host`` set) connects within ``connect_timeout`` seconds (default
:data:`CONNECT_TIMEOUT`, or ``{NAME}_CONNECT_TIMEOUT`` from the settings): ``filesystem()``
passes it to its library, and a connection that does not succeed in time fails with
:class:`ConnectTimeout` ("timed out after N s connecting to HOST"), whatever the library
raised. Log records and thread tracebacks the library emits while connecting are kept out of
stderr and go into the error's details.

Reads and scans (``read_with``, ``scan_with``) use either polars' own cloud reader on the
URL (``"polars"``, with ``polars_options()``) or the filesystem's file objects (``"fsspec"``),
whichever is faster on the store.

Nothing here imports fsspec or polars until a method needs it.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
import time
import traceback
from pathlib import Path, PurePosixPath
from typing import Any

from ..exceptions import PolsterError
from .local_backend import (
    dead_writers_file,
    new_temp_file,
    staging,
    sweep_dead_writers,
    temp_name,
)

POLARS = "polars"
FSSPEC = "fsspec"
UPLOAD = "upload"
RENAME = "rename"
STAGED = "polster-upload"  # name of the local files LazyFrames are staged in before an upload
CONNECT_TIMEOUT = 10.0  # seconds a backend waits for its server when connecting


class ConnectTimeout(PolsterError, TimeoutError):
    """The backend's server did not complete the connection within its connect timeout."""


class FsspecBackend:
    """Parquet tables under ``root`` on an fsspec filesystem (``root`` has no protocol).

    A ``root`` starting with ``/`` is absolute and stays so (on a server with login
    directories, a relative root is relative to the login directory). ``host`` (e.g.
    ``"sftp.example.com:2222"``, optionally ``user@`` in front; a password there is never
    shown) is the server, named in :meth:`uri` and in connection errors.
    """

    name = "fsspec"
    protocol = "file"
    write_with = RENAME
    read_with = FSSPEC
    scan_with = FSSPEC
    connect_timeout = CONNECT_TIMEOUT
    thread_safe = True  # False: one filesystem (and connection) per thread

    def __init__(self, root: str, host: str = ""):
        inner = root.strip("/")
        self.root = "/" + inner if root.startswith("/") else inner
        self.host = host
        self._fs = None

    # What a subclass provides -------------------------------------------------------------

    def filesystem(self) -> Any:
        """A new fsspec filesystem for this backend: called once per backend object, on first
        use (once per backend object and thread when ``thread_safe`` is false)."""
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
        """The filesystem, made by ``filesystem()`` on first use: one per backend object, or
        one per thread when ``thread_safe`` is false. Threads asking at once wait for the
        first one's connection instead of making their own."""
        if not self.thread_safe:
            return self._thread_fs()
        fs = getattr(self, "_fs", None)
        if fs is None:
            with _connect_lock(self):
                if getattr(self, "_fs", None) is None:
                    self._fs = self._connect()
                fs = self._fs
        return fs

    def _thread_fs(self) -> Any:
        with _connect_lock(self):
            local = self.__dict__.setdefault("_polster_threads", threading.local())
        fs = getattr(local, "fs", None)
        if fs is None:
            fs = local.fs = self._connect()
        return fs

    def path(self, layer: str, name: str) -> str:
        """The table's path on the filesystem: ``{root}/{layer}/{name}.parquet``."""
        if self.root == "/":
            return f"/{layer}/{name}.parquet"
        return "/".join(part for part in (self.root, layer, f"{name}.parquet") if part)

    def uri(self, layer: str, name: str) -> str:
        """``{protocol}://[host]{path}``: with a host, a relative path is written ``/~/path``
        (relative to the login directory, as in ``sftp://`` URIs); never a password."""
        path = self.path(layer, name)
        host = public_host(self.host)
        if not host:
            return f"{self.protocol}://{path}"
        return f"{self.protocol}://{host}{path if path.startswith('/') else '/~/' + path}"

    def url(self, layer: str, name: str) -> str:
        """The URL polars' own reader gets (``read_with`` / ``scan_with`` = ``POLARS``)."""
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
            return pl.read_parquet(self.url(layer, name), **self.polars_options())
        with self.fs.open(self.path(layer, name), "rb") as handle:
            return pl.read_parquet(handle)

    def scan(self, layer: str, name: str) -> Any:
        import polars as pl

        if self.scan_with == POLARS:
            return pl.scan_parquet(self.url(layer, name), **self.polars_options())
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

        parent, _, filename = path.rpartition("/")
        stage, stem = parent, filename  # a partition's file: staged beside its table's folder
        if parent:
            folder, stem = staging(PurePosixPath(parent), filename)
            stage = "" if str(folder) == "." else str(folder)
        tmp = f"{stage}/{temp_name(stem, '.tmp')}" if stage else temp_name(stem, ".tmp")
        fs = self.fs
        if parent:
            _makedirs(fs, parent)
            try:  # what writers of this host that were killed left behind
                for stale in fs.glob(f"{stage}/.{stem}.*.tmp" if stage else f".{stem}.*.tmp"):
                    if dead_writers_file(stale.rpartition("/")[2], stem, ".tmp"):
                        fs.rm(stale)
            except Exception:  # best effort: never fail a write for it
                pass
        try:
            with fs.open(tmp, "wb") as handle:
                writer = FileWriter(handle)
                try:
                    if isinstance(frame, pl.LazyFrame):
                        frame.sink_parquet(writer)
                    else:
                        frame.write_parquet(writer)
                except Exception as exc:
                    writer.finish()
                    if writer.error is None or writer.error is exc:
                        raise
                    # polars' message keeps only the text of what the file object raised.
                    raise writer.error from exc
                writer.finish()
            fs.mv(tmp, path)
        except BaseException:
            try:
                fs.rm(tmp)
            except Exception:  # the temporary file may never have been created
                pass
            raise

    # Connecting ---------------------------------------------------------------------------

    def _connect(self) -> Any:
        """``filesystem()``, within ``connect_timeout`` seconds, with the library kept quiet."""
        timeout = float(self.connect_timeout)
        where = public_host(self.host) or f"the {self.name} store"
        outcome: dict[str, Any] = {}

        def connect() -> None:
            try:
                outcome["fs"] = self.filesystem()
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        started = time.monotonic()
        before = set(threading.enumerate())
        with _LibraryOutput() as output:
            # In a thread of its own, so that a library that ignores the timeout cannot hang
            # the run: after a grace period the connection is given up on (the thread is left).
            thread = threading.Thread(target=connect, name=f"polster-connect-{self.name}")
            thread.daemon = True
            thread.start()
            thread.join(timeout + max(3.0, timeout))
            if "fs" not in outcome:
                # The library's own threads report the failure as they end: let them finish
                # (briefly) while their output is still being kept.
                deadline = time.monotonic() + 2.0
                for other in set(threading.enumerate()) - before - {thread}:
                    other.join(max(0.0, deadline - time.monotonic()))
        elapsed = time.monotonic() - started
        if "fs" in outcome:
            output.replay()
            return outcome["fs"]
        error = outcome.get("error")
        if error is None or _timed_out(error) or elapsed >= timeout * 0.95:
            failure = ConnectTimeout(
                f"timed out after {timeout:g} s connecting to {where} (the server accepted no "
                f"connection or did not answer; raise {self.name.upper().replace('-', '_')}"
                "_CONNECT_TIMEOUT if it is just slow)"
            )
            failure.details = output.text(error)
            raise failure
        if isinstance(error, Exception):
            error.polster_details = output.text(error)  # type: ignore[attr-defined]
        raise error


class FileWriter:
    """A file object as polars' writers need it.

    ``write()`` returns the number of bytes written even when the wrapped file's returns
    ``None`` (paramiko's SFTP files do, and polars then fails with "'NoneType' object cannot
    be interpreted as an integer"), and the first exception the file raises is kept in
    ``error``: polars reports only its text, the writer raises the exception itself.

    Calls are serialised, and :meth:`finish` waits for the one under way and refuses later
    ones: when the source of a streamed write fails, polars returns while its writer thread
    may still be writing, and a second thread on the same connection (removing the
    temporary file) deadlocks clients such as paramiko's.
    """

    def __init__(self, handle: Any):
        self.handle = handle
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._finished = False

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            if self._finished:
                raise ValueError("write to a file polster has finished writing")
            try:
                return getattr(self.handle, method)(*args)
            except BaseException as exc:
                self.error = self.error or exc
                raise

    def write(self, data: Any) -> int:
        written = self._call("write", data)
        return memoryview(data).nbytes if written is None else written

    def flush(self) -> None:
        self._call("flush")

    def finish(self) -> None:
        """Wait for the call under way, then refuse every later one."""
        with self._lock:
            self._finished = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)


_LOCKS_LOCK = threading.Lock()


def _connect_lock(backend: Any) -> threading.Lock:
    """The backend object's own lock (made on first use: a subclass may skip ``__init__``)."""
    lock = backend.__dict__.get("_polster_lock")
    if lock is None:
        with _LOCKS_LOCK:
            lock = backend.__dict__.setdefault("_polster_lock", threading.Lock())
    return lock


def _makedirs(fs: Any, folder: str) -> None:
    """``fs.makedirs(folder, exist_ok=True)``, for writers racing each other.

    Filesystems that check, then create, each level (fsspec's FTP and SFTP) fail when another
    writer created a level in between (FTP: ``550 File exists``; SFTP: an ``OSError``), and
    may stop before the deeper levels: then the folder being there is success, and a second
    attempt (the race is over) creates what is missing. Object stores have no folders: their
    ``OSError`` is ignored, as before; the write that follows says what is wrong.
    """
    error: Exception | None = None
    for _ in range(3):
        try:
            fs.makedirs(folder, exist_ok=True)
            return
        except NotImplementedError:
            return
        except Exception as exc:
            error = exc
        try:
            if fs.isdir(folder):
                return
        except Exception:
            pass
    if isinstance(error, OSError):
        return
    raise error


def public_host(host: str) -> str:
    """``host`` without a password: ``user:secret@h:22`` -> ``user@h:22``."""
    userinfo, at, hostport = (host or "").rpartition("@")
    if not at:
        return hostport
    return f"{userinfo.partition(':')[0]}@{hostport}"


def _timed_out(error: BaseException) -> bool:
    """Whether a timeout is in the exception's chain."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError since 3.10
            return True
        error = error.__cause__ or error.__context__
    return False


class _LibraryOutput(logging.Handler):
    """While connecting: log records (WARNING and up) and uncaught thread exceptions, kept
    instead of printed. A library's background threads print whole tracebacks on failures
    (paramiko's transport thread logs one); they belong in the error's details."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.thread_errors: list[str] = []
        self._hook = None

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def _thread_error(self, args) -> None:
        self.thread_errors.append(
            "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        )

    def __enter__(self) -> _LibraryOutput:
        logging.getLogger().addHandler(self)
        self._hook = threading.excepthook
        threading.excepthook = self._thread_error
        return self

    def __exit__(self, *exc: Any) -> None:
        logging.getLogger().removeHandler(self)
        threading.excepthook = self._hook

    def replay(self) -> None:
        """After a successful connection, what was kept is shown as it would have been."""
        for record in self.records:
            logging.getLogger(record.name).handle(record)

    def text(self, error: BaseException | None) -> str:
        parts = []
        if error is not None:
            parts.append("".join(traceback.format_exception(error)).rstrip())
        formatter = logging.Formatter("%(name)s %(levelname)s: %(message)s")
        parts += [formatter.format(record) for record in self.records]
        parts += [text.rstrip() for text in self.thread_errors]
        return "\n\n".join(parts)
