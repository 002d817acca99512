"""User errors shown: the one way any error a user can fix is shown, secrets masked.

Every entry point (the ``polster`` CLI, ``run_polster.py``, the example scripts through
``core/storage.py``) turns what a user can fix into one line with :func:`user_message` and
prints it with :func:`one_line`; anything else is a bug and keeps its traceback. Bad data
an asset read (malformed JSON, a ragged CSV: an error raised by the reader, polars or
``json``, not by the asset's own code) is one line too, the same in an example script as in a
run: :func:`error_line` (``POLSTER_TRACEBACK=1`` shows a script's full traceback, as
``run_polster.py --verbose`` shows a run's).

The exception types (:class:`PolsterError` and its kin) live in :mod:`polster_core.exceptions`,
which imports nothing of Polster; they are re-exported here, where generated projects and
plugins import them from.
"""

from __future__ import annotations

import os
import sys
import traceback

from .exceptions import (
    Interrupted,
    PolsterError,
    ProjectUnfinished,
    describe,
    exception_line,
    one_line,
)
from .secrets import mask

__all__ = [
    "Interrupted",
    "PolsterError",
    "ProjectUnfinished",
    "describe",
    "error_line",
    "exception_line",
    "one_line",
    "one_line_errors",
    "report",
    "user_message",
]


def user_message(exc: BaseException) -> str | None:
    """What went wrong and what to do, in a sentence, for an error a user can fix; ``None``
    for anything else (a bug, whose traceback is worth showing). Secrets are masked in it
    (:func:`polster_core.secrets.mask`): an error may quote a URL with a token in its query,
    or a library's message a password."""
    message = describe(exc)
    return None if message is None else mask(message)


def error_line(exc: BaseException) -> str | None:
    """The one line for ``exc`` at an example script's end: the sentence of an error a user
    can fix (:func:`user_message`); for bad data a reader refused, the line ``run_polster.py``
    prints for it (the error's type and first line, :func:`exception_line`); ``None`` for a
    bug, whose traceback is worth showing."""
    message = user_message(exc)
    if message is None and _bad_data(exc):
        message = exception_line("".join(traceback.format_exception_only(type(exc), exc)))
    return message


# The readers whose errors are about the data they were given, not about the code calling them.
_READERS = ("polars", "json")


def _bad_data(exc: BaseException) -> bool:
    """Whether a data reader raised ``exc``: one of polars' own errors, or any error raised in
    polars' or the ``json`` module's code (a ``ValueError`` for a scalar, a ``RecursionError``
    for JSON nested too deep)."""

    if not isinstance(exc, Exception):  # Ctrl+C while polars reads is not about the data
        return False
    if type(exc).__module__.split(".")[0] in _READERS:
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    where = os.path.abspath(frames[-1].filename)
    for name in _READERS:
        module = sys.modules.get(name)
        folder = os.path.dirname(getattr(module, "__file__", None) or "")
        if folder and where.startswith(folder + os.sep):
            return True
    return False


def report(exc: BaseException, prefix: str = "error: ") -> bool:
    """Print ``exc`` as one line on stderr if a user can fix it (:func:`error_line`); whether
    it was printed."""
    message = error_line(exc)
    if message is None:
        return False
    print(f"{prefix}{one_line(message)}", file=sys.stderr, flush=True)
    return True


def one_line_errors() -> None:
    """Make an uncaught user error, or bad data a reader refused, end a script with one line
    on stderr (:func:`error_line`; exit code 1), not a traceback. Bugs keep their traceback,
    and every error has it with ``POLSTER_TRACEBACK=1``. Safe to call more than once."""
    previous = sys.excepthook
    if getattr(previous, "_polster", False):
        return

    def hook(kind, value, tb):

        if os.environ.get("POLSTER_TRACEBACK") == "1" or not report(value):
            previous(kind, value, tb)

    hook._polster = True
    sys.excepthook = hook
