"""Step processes as quiet as Polster's own, whatever the executor (issue 28).

An executor that starts a Python process per step (Dagster's multiprocess executor, a plugin's
executor built on it, as ``polster plugin new executor`` writes) has each process log
``STEP_WORKER_STARTED`` through Dagster's default console logger, at DEBUG, before the run's
quiet logger config applies, and print the warnings its imports raise (a ``BetaWarning``).
Without ``--verbose``, :func:`quiet_step_processes` keeps both off the terminal, for every
executor, with no Dagster internals:

- warnings: ``PYTHONWARNINGS=ignore`` in the environment the processes inherit, as
  ``run_polster.py`` itself ignores them;
- Dagster's console log lines: the processes write to stderr through a pipe whose reader
  passes every other line on, unchanged and in order, and drops Dagster's DEBUG and INFO
  console lines (``... - dagster - DEBUG - ...``).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Dagster's console logger: "2026-12-07 21:39:45 +0000 - dagster - DEBUG - job - run - ...";
# its warnings and errors still pass.
DAGSTER_LINE = re.compile(rb"^\S+ \S+ \S+ - dagster - (DEBUG|INFO) - ")
# The start of a line that may still become one of those (they begin with a date): held until
# its end; any other unfinished line (a prompt, a bar redrawn with \r) is passed on at once.
MAYBE_DAGSTER = re.compile(rb"^(\d{1,4}|\d{4}-.*)$", re.S)


@contextmanager
def quiet_step_processes() -> Iterator[None]:
    """While the block runs, processes started by it inherit a filtered stderr and
    ``PYTHONWARNINGS=ignore``. Does nothing where file descriptors cannot be redirected."""
    before = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = "ignore"
    try:
        with _filtered_stderr():
            yield
    finally:
        if before is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = before


@contextmanager
def _filtered_stderr() -> Iterator[None]:
    try:
        sys.stderr.flush()
        original = os.dup(2)
        read_end, write_end = os.pipe()
    except (OSError, ValueError, AttributeError):
        yield
        return
    reader = threading.Thread(
        target=_pass_on, args=(read_end, original), name="polster-stderr", daemon=True
    )
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # the pipe's last writer in this process is gone
        # Processes still holding the pipe (a step that outlives the run) keep it open: wait
        # a moment for the lines already written, then leave the reader to them.
        reader.join(timeout=2.0)
        if not reader.is_alive():
            os.close(original)


def _pass_on(read_end: int, target: int) -> None:
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            try:
                chunk = pipe.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            kept = b"".join(line + b"\n" for line in lines if not DAGSTER_LINE.match(line))
            if pending and not MAYBE_DAGSTER.match(pending):
                kept, pending = kept + pending, b""
            if kept:
                _write_all(target, kept)
    if pending and not DAGSTER_LINE.match(pending):
        _write_all(target, pending)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return
        view = view[written:]
