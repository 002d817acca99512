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

from .secrets import Redactor


@contextmanager
def masked_output(redactor: Redactor) -> Iterator[None]:
    """While it lasts, what this process (and every process it starts) writes to its stdout
    and stderr is masked; nothing changes when there is no secret to mask."""
    if not redactor:
        yield
        return
    with ExitStack() as stack:
        for stream in (sys.stdout, sys.stderr):
            stack.enter_context(masked_stream(stream, None, redactor))
        yield


@contextmanager
def masked_stream(stream, path: str | None, redactor: Redactor) -> Iterator[None]:
    """While it lasts, what is written to ``stream``'s file descriptor reaches ``path`` (if
    any) and the descriptor's previous target masked."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured by a test)
        yield
        return
    stream.flush()
    previous = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)
    pump = MaskingPump(read_end, previous, path, redactor)
    pump.start()
    try:
        yield
    finally:
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
        os.dup2(previous, fd)  # closes the pipe's last writer here: the pump reads to its end
        # (unless a program the step started still holds it: then the pump goes on alone)
        pump.join(timeout=5)
        if not pump.is_alive():
            os.close(previous)


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
                cut = pending.rfind(b"\n") + 1
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
