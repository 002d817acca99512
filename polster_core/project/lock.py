"""The project lock: one polster command at a time changes a project.

A command that reads the project, builds a plan and applies it holds ``.polster.lock`` in the
project's root for that whole cycle, so a second command reads the project only after the first
has written it. The lock is an OS file lock (``flock``; ``msvcrt.locking`` on Windows): the OS
releases it when the process exits, however it exits (kill -9 included). The file records who
holds it, so a command that waits in vain can say so; it is removed when the lock is released.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..exceptions import PolsterError
from .plan import JOURNAL, recover

LOCK_FILE = ".polster.lock"
SETUP_LOCK_FILE = ".polster-setup.lock"
DEFAULT_TIMEOUT = 10.0
POLL = 0.05

if os.name == "nt":  # pragma: no cover - no Windows runner here
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def lock_timeout() -> float:
    """Seconds a command waits for the lock: ``POLSTER_LOCK_TIMEOUT``, else 10."""
    raw = os.environ.get("POLSTER_LOCK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise PolsterError(
            f"POLSTER_LOCK_TIMEOUT={raw} is not a number of seconds: set it to e.g. 30, or unset it"
        )
    return value


def _open_lock(path: Path) -> int:
    """The lock file, opened read-write (created when missing) without following a symlink;
    anything but a regular file (a symlink, a FIFO, a folder) is refused in one line."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if os.path.islink(path) or exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise _not_a_lock(path) from None
        raise PolsterError(
            f"cannot create the lock file {path}: {exc.strerror or exc}; nothing was changed"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_a_lock(path)
    return fd


def _not_a_lock(path: Path) -> PolsterError:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        mode = 0
    kind = (
        "a symbolic link"
        if stat.S_ISLNK(mode)
        else "a folder"
        if stat.S_ISDIR(mode)
        else "a FIFO"
        if stat.S_ISFIFO(mode)
        else "not a regular file"
    )
    return PolsterError(
        f"{path} is {kind}, not polster's lock file: polster never writes through it; remove "
        "it (polster creates the lock itself) and run the command again; nothing was changed"
    )


def _holder(path: Path) -> str:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
            text = os.read(fd, 4096).decode("utf-8", "replace").strip() if regular else ""
        finally:
            os.close(fd)
    except OSError:
        text = ""
    return text or "another polster command"


@contextmanager
def project_lock(
    root: Path, command: str, timeout: float | None = None, name: str = LOCK_FILE
) -> Iterator[Path]:
    """Hold ``root/name`` while the block runs; after ``timeout`` seconds of waiting, a
    one-line :class:`PolsterError` names the command that holds it."""
    path = root / name
    wait = lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + wait
    while True:
        fd = _open_lock(path)
        if _try_lock(fd):
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            # The holder removed the file as it released it: lock the file that is there now.
            _unlock(fd)
            os.close(fd)
            continue
        os.close(fd)
        if time.monotonic() >= deadline:
            raise PolsterError(
                f"{_holder(path)} is changing this project ({path} is locked); waited "
                f"{wait:g}s: try again when it has finished (POLSTER_LOCK_TIMEOUT sets the wait)"
            )
        time.sleep(POLL)
    try:
        if name == LOCK_FILE:  # an apply cut short by a kill is settled before anything else
            settled = recover(root)
            if settled:
                sys.stderr.write(f"polster: {settled}\n")
        since = time.strftime("%H:%M:%S")
        import socket  # lazy: only a command that takes the lock needs the host's name

        record = f"`{command}` (pid {os.getpid()} on {socket.gethostname()}, since {since})"
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (record + "\n").encode("utf-8"))
        yield path
    finally:
        # Remove the file before unlocking, so a waiter never locks a file nobody will delete
        # and the project has no lock file between commands.
        try:
            path.unlink()
        except OSError:
            pass
        _unlock(fd)
        os.close(fd)


def settle(root: Path) -> None:
    """Settle, under the lock, an apply a kill cut short in ``root`` (a commit journal is
    finished, any other undone), so even a command that only reads never sees it half done."""

    if os.path.lexists(root / JOURNAL):
        with project_lock(root, "polster (settling an interrupted command)"):
            pass


_held = ExitStack()


def hold(root: Path, command: str) -> None:
    """Lock ``root`` until the running command ends: :func:`release_held`, which the CLI's
    entry point calls however a command ends, or the process's exit."""
    _held.enter_context(project_lock(root, f"polster {command}"))


def release_held() -> None:
    """Release every lock taken with :func:`hold`."""
    _held.close()
