"""What ``run_polster.py`` shows while a run goes on: steps as they start, ``n/m`` done, and for
a backfill the partitions computed and an estimate of the time left.

On a terminal it is one status line, redrawn in place under the lines of finished steps; when
the output is a file or a pipe (CI logs), plain lines, a few per step. ``POLSTER_PROGRESS=bar``
or ``=lines`` chooses one whatever the output is.

A generated partitioned asset iterates ``each_partition(context)`` instead of
``context.partition_keys``: it logs ``polster progress: done/total`` to the run's event log
(at most about twenty times per step, or once a second), which the runner reads as the run
goes, in this process or from ``--workers``' processes alike, and which the UI's run log shows.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

MARK = "polster progress:"
ENV = "POLSTER_PROGRESS"
# How many progress messages a step logs at most by count (more only when partitions are slow).
BUCKETS = 20
BAR_WIDTH = 20

_style: str | None = None


def choose_style(stream: Any = None) -> str:
    """``bar`` on a terminal, ``lines`` otherwise (``$POLSTER_PROGRESS`` overrides); decided
    once, before ``run_polster.py`` routes its output through the masking pipe."""
    global _style
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in ("bar", "lines"):
        _style = forced
    else:
        stream = sys.stdout if stream is None else stream
        try:
            terminal = stream.isatty() and os.environ.get("TERM") != "dumb"
        except (AttributeError, ValueError):
            terminal = False
        _style = "bar" if terminal else "lines"
    return _style


def style() -> str:
    return _style or choose_style()


def each_partition(context: Any) -> Iterator[str]:
    """The run's partition keys, one at a time, logging how many are done as they are."""
    keys = list(context.partition_keys)
    total = len(keys)
    last_bucket = 0
    last_time = time.monotonic()
    for done, key in enumerate(keys):
        if done and total > 1:
            bucket = done * BUCKETS // total
            now = time.monotonic()
            if bucket != last_bucket or now - last_time >= 1.0:
                context.log.info(f"{MARK} {done}/{total}")
                last_bucket, last_time = bucket, now
        yield key
    if total > 1:
        context.log.info(f"{MARK} {total}/{total}")


def parse(text: str) -> tuple[int, int] | None:
    """``(done, total)`` from a progress message, None from any other."""
    if not text.startswith(MARK):
        return None
    try:
        done, total = text[len(MARK) :].strip().split("/")
        return int(done), int(total)
    except ValueError:
        return None


def duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``2h 10m``."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def time_left(started: float | None, now: float, done: int, total: int) -> str | None:
    """An estimate from the pace so far, or None before the first partition is done."""
    if started is None or done <= 0 or done >= total:
        return None
    return duration((now - started) / done * (total - done))


class Display:
    """Prints a run's progress in one of the two styles; the runner calls it per event."""

    def __init__(self, total_steps: int, how: str | None = None, stream: Any = None):
        self.total = total_steps
        self.how = how or style()
        self.stream = sys.stdout if stream is None else stream
        self.finished = 0
        self.running: dict[str, str] = {}  # step -> what to show about it on the status line
        self._said: dict[str, tuple[int, float]] = {}  # step -> (tenth, time) of its last line
        self._status_shown = False

    # What the runner tells it.
    def started(self, name: str) -> None:
        self.running[name] = ""
        if self.how == "lines":
            self._write(f"  start {name:<40} [{self.finished}/{self.total} done]")
        else:
            self._redraw()

    def partitions(self, name: str, done: int, total: int, left: str | None) -> None:
        about = f", about {left} left" if left else ""
        self.running[name] = f"{done}/{total} partitions{about}"
        if self.how == "bar":
            self._redraw()
            return
        # Plain lines: one per tenth of the partitions, or every ten seconds, not one per message.
        tenth, now = done * 10 // total, time.monotonic()
        said_tenth, said_at = self._said.get(name, (0, now))
        if done < total and (tenth > said_tenth or now - said_at >= 10):
            self._said[name] = (tenth, now)
            self._write(f"  ..    {name:<40} {done}/{total} partitions{about}")

    def ended(self, name: str) -> None:
        self.running.pop(name, None)
        self.finished += 1

    def counter(self) -> str:
        """``[n/m]`` after a finished step's line."""
        return f"  [{self.finished}/{self.total}]"

    def line(self, text: str) -> None:
        """A line that stays (a finished step, a failed check), above the status line."""
        self._write(text)

    def close(self) -> None:
        if self.how == "bar" and self._status_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._status_shown = False

    # Drawing.
    def _write(self, text: str) -> None:
        if self.how == "bar" and self._status_shown:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        if self.how == "bar":
            self._draw_status()
        self.stream.flush()

    def _redraw(self) -> None:
        if self.how == "bar" and self._status_shown:
            self.stream.write("\r\x1b[K")
        self._draw_status()
        self.stream.flush()

    def _draw_status(self) -> None:
        if not self.running:
            self._status_shown = False
            return
        filled = BAR_WIDTH * self.finished // max(self.total, 1)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        name, about = next(reversed(self.running.items()))
        more = f" (+{len(self.running) - 1} more)" if len(self.running) > 1 else ""
        detail = f" {about}" if about else ""
        status = f"  [{bar}] {self.finished}/{self.total}  {name}{more}{detail}"
        # Ending with a carriage return (the cursor back at the line's start) lets the masking
        # pipe pass the line on at once; the next write clears it.
        self.stream.write(status[: _columns() - 1] + "\r")
        self._status_shown = True


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 120
