"""Output with secrets masked: a file descriptor's writes go through a pipe to a thread that
masks them and passes them on (to a log file, to where they went before).

Used for what Dagster's steps print (:mod:`polster_core.history`), for what ``dagster dev``
prints under ``run_polster.py --ui``, and for everything ``run_polster.py`` itself prints
(:func:`masked_output`: Dagster's own log under ``--verbose``, its worker processes).
Working on file descriptors, it masks ``print``, logging handlers made earlier, C extensions
and child processes alike.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from ..secrets import Redactor


@contextmanager
def masked_output(redactor: Redactor) -> Iterator[None]:
    """While it lasts, what this process (and every process it starts) writes to its stdout
    and stderr is masked; nothing changes when there is no secret to mask."""
    if not redactor:
        yield
        return
    if _same_file(sys.stdout, sys.stderr):
        # A terminal, or 2>&1: one pipe for both keeps their lines in the order written.
        with masked_stream(sys.stdout, None, redactor, also=sys.stderr):
            yield
        return
    with ExitStack() as stack:
        for stream in (sys.stdout, sys.stderr):
            stack.enter_context(masked_stream(stream, None, redactor))
        yield


def _same_file(one, other) -> bool:
    try:
        a, b = os.fstat(one.fileno()), os.fstat(other.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


@contextmanager
def masked_stream(stream, path: str | None, redactor: Redactor, also=None) -> Iterator[None]:
    """While it lasts, what is written to ``stream``'s file descriptor (and to ``also``'s, a
    stream that writes to the same file) reaches ``path`` (if any) and the descriptor's
    previous target masked."""
    try:
        fds = [stream.fileno()] + ([also.fileno()] if also is not None else [])
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured by a test)
        yield
        return
    streams = [stream] + ([also] if also is not None else [])
    for each in streams:
        each.flush()
    previous = [os.dup(fd) for fd in fds]
    read_end, write_end = os.pipe()
    for fd in fds:
        os.dup2(write_end, fd)
    os.close(write_end)
    pump = MaskingPump(read_end, previous[0], path, redactor)
    pump.start()
    try:
        yield
    finally:
        for each in streams:
            try:
                each.flush()
            except (OSError, ValueError):
                pass
        for fd, before in zip(fds, previous, strict=True):
            os.dup2(before, fd)  # closes the pipe's last writer: the pump reads to its end
        # (unless a program the step started still holds it: then the pump goes on alone)
        pump.join(timeout=5)
        for before in previous[1:]:
            os.close(before)
        if not pump.is_alive():
            os.close(previous[0])


class MaskingPump(threading.Thread):
    """Reads a pipe to its end; writes what it reads, masked, to a log file (``path``, if any)
    and to a file descriptor (``target``). A secret split across two reads is still found:
    text is masked by whole lines (a very long line all but a tail as long as the longest
    secret, which waits for the next read)."""

    CHUNK = 65536

    def __init__(self, read_end: int, target: int | None, path: str | None, redactor: Redactor):
        super().__init__(daemon=True, name="polster-masked-output")
        self.read_end = read_end
        self.target = target
        self.path = path
        self.redactor = redactor
        self.keep = max((len(f.encode()) for f in redactor.fragments), default=0) + 256

    def run(self) -> None:
        log = open(self.path, "ab", buffering=0) if self.path else None
        pending = b""
        try:
            while chunk := os.read(self.read_end, self.CHUNK):
                pending += chunk
                # Whole lines; a carriage return ends one too (a progress bar redrawn in place).
                cut = max(pending.rfind(b"\n"), pending.rfind(b"\r")) + 1
                if not cut and len(pending) > self.CHUNK + self.keep:
                    cut = len(pending) - self.keep
                if cut:
                    self._emit(pending[:cut], log)
                    pending = pending[cut:]
            self._emit(pending, log)
        finally:
            os.close(self.read_end)
            if log is not None:
                log.close()

    def _emit(self, data: bytes, log) -> None:
        if not data:
            return
        masked = self.redactor(data.decode("utf-8", "surrogateescape"))
        masked_bytes = masked.encode("utf-8", "surrogateescape")
        if log is not None:
            log.write(masked_bytes)
        if self.target is not None:
            try:
                _write_all(self.target, masked_bytes)
            except OSError:  # the terminal went away: the log file still gets everything
                self.target = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
