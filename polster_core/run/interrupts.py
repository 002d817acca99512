"""Ctrl+C and SIGTERM during a run of ``run_polster.py``: noticed whoever handles them.

While Dagster runs a job it replaces Python's handlers of SIGINT and SIGTERM with its own,
which turn the signal into a failed step (``DagsterExecutionInterruptedError``) or stop the
run between steps, and the run ends as if an asset had failed. :func:`noted_signals` lets the
runner tell such an end from a failure: the signal numbers Python receives reach a pipe (its
wakeup file descriptor, which no handler replaces), read by ``received()`` afterwards. It also
makes SIGTERM (a service manager, ``kill``) stop the run as Ctrl+C does where Dagster does
not handle it, before and after the steps.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# What stops a run, and the exit code either gives (Ctrl+C's, by the shell's convention).
SIGNALS = {signal.SIGINT: "Ctrl+C", signal.SIGTERM: "SIGTERM"}
EXIT_CODE = 130


@contextmanager
def noted_signals() -> Iterator[Callable[[], str | None]]:
    """While it lasts, SIGTERM interrupts like Ctrl+C (``KeyboardInterrupt``); yields
    ``received()``: the name of the first of them that arrived ("Ctrl+C", "SIGTERM"), or None.
    Worker processes forked meanwhile must call ``signal.set_wakeup_fd(-1)`` (see pool.py)."""
    if threading.current_thread() is not threading.main_thread() or os.name == "nt":
        yield lambda: None
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    seen: list[str] = []

    def received() -> str | None:
        try:
            while data := os.read(read_end, 512):
                seen.extend(SIGNALS[n] for n in data if n in SIGNALS)
        except (BlockingIOError, OSError):
            pass
        return seen[0] if seen else None

    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    previous_term = signal.getsignal(signal.SIGTERM)
    if previous_term in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield received
    finally:
        received()
        signal.set_wakeup_fd(previous_fd)
        if previous_term in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, previous_term or signal.SIG_DFL)
        os.close(read_end)
        os.close(write_end)


def interrupted_line(how: str, done: int | None = None, total: int | None = None) -> str:
    """The one line a run stopped by ``how`` ends with (on stderr)."""
    count = f" after {done} of {total} assets" if done is not None and total else ""
    return (
        f"Interrupted ({how}): the run stopped{count}; every table written before is complete, "
        "and the ones being written keep their previous data: run it again to finish"
    )
