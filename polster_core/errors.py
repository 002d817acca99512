"""User errors: the one exception type a user can cause, and the one way any of them is shown.

Every entry point (the ``polster`` CLI, ``run_polster.py``, the example scripts through
``core/storage.py``) turns what a user can fix into one line with :func:`user_message` and
prints it with :func:`one_line`; anything else is a bug and keeps its traceback. Bad data
an asset read (malformed JSON, a ragged CSV: an error raised by the reader, polars or
``json``, not by the asset's own code) is one line too, the same in an example script as in a
run: :func:`error_line` (``POLSTER_TRACEBACK=1`` shows a script's full traceback, as
``run_polster.py --verbose`` shows a run's).
"""

from __future__ import annotations

import errno
import sys
import traceback
import unicodedata
from pathlib import PurePath


class PolsterError(Exception):
    """A problem the user can fix; ``str(error)`` says what is wrong and what to do.

    Nothing was written (exit code 1), unless a subclass says otherwise.

    ``details`` is the full cause behind the one line (a traceback, a library's log), for
    ``run_polster.py --verbose`` and Dagster's log; empty when the line says it all. Whoever
    sets it masks secrets in it first.
    """

    details: str = ""
    exit_code = 1
    prefix = "Error: "


class ProjectUnfinished(PolsterError):
    """``polster init`` wrote the project, then a later step (git, setup, the remote) failed;
    the message says what is there and the command that finishes the job (exit code 3)."""

    exit_code = 3


class Interrupted(PolsterError):
    """Ctrl+C after the project was written: what is there and how to finish (exit 130)."""

    exit_code = 130
    prefix = ""


# Characters that would break a message over lines or hide text: control characters, line
# and paragraph separators, and the bidirectional overrides ("trojan source").
_HIDDEN = {"Cc", "Zl", "Zp"}
_BIDI = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def one_line(text: str) -> str:
    """``text`` with every control character escaped (a newline shows as ``\\n``)."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch in _BIDI or unicodedata.category(ch) in _HIDDEN
        else ch
        for ch in str(text)
    )


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_ALLOWED = {errno.EACCES, errno.EPERM}


def user_message(exc: BaseException) -> str | None:
    """What went wrong and what to do, in a sentence, for an error a user can fix; ``None``
    for anything else (a bug, whose traceback is worth showing). Secrets are masked in it
    (:func:`polster_core.secrets.mask`): an error may quote a URL with a token in its query,
    or a library's message a password."""
    message = _message(exc)
    if message is None:
        return None
    from .secrets import mask

    return mask(message)


def _message(exc: BaseException) -> str | None:
    if isinstance(exc, PolsterError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        where = _decoded_path(exc)
        return (
            f"{where or 'a file'} is not UTF-8 text ({exc.reason} at byte {exc.start}): "
            "save it as UTF-8; nothing was changed"
        )
    if _is_toml_error(exc):
        where = _decoded_path(exc)
        return f"{where or 'a file'} is not valid TOML ({exc}): fix it; nothing was changed"
    if isinstance(exc, OSError):
        return _os_message(exc)
    return None


def _os_message(exc: OSError) -> str:
    # Every write Polster makes is all-or-nothing (plans, atomic table writes): a failed one
    # leaves the files as they were.
    name = exc.filename or _decoded_path(exc)
    where = f"{name}: " if name else ""
    if exc.errno in _NO_SPACE:
        what = "no space left on the device: free some space and try again"
    elif exc.errno == errno.EROFS:
        what = "the file system is read-only: use a writable directory"
    elif exc.errno in _NOT_ALLOWED:
        what = "permission denied: fix its permissions or use another directory"
    else:
        what = f"{exc.strerror or exc}: fix that and try again"
    return f"{where}{what}; nothing was changed"


def _is_toml_error(exc: BaseException) -> bool:
    kind = type(exc)
    return kind.__name__ == "TOMLDecodeError" or (
        kind.__module__.startswith("tomlkit") and kind.__name__.endswith("Error")
    )


def _decoded_path(exc: BaseException) -> str | None:
    """The file being read when ``exc`` was raised: the ``Path`` whose ``read_text`` (or
    ``open``, ``read_bytes``) is on the traceback, innermost first."""
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    for frame in reversed(frames):
        if frame.f_code.co_name in ("read_text", "read_bytes", "open"):
            path = frame.f_locals.get("self")
            if isinstance(path, PurePath):
                return str(path)
    return None


_OWN = f"{PolsterError.__module__}.{PolsterError.__qualname__}: "


def exception_line(text: str) -> str:
    """The first line of an error as Python formats it (``json.decoder.JSONDecodeError:
    Expecting ...``; Dagster keeps a failed step's error so), without the class name in
    front of Polster's own errors, which are complete sentences."""
    lines = str(text).strip().splitlines()
    if not lines:
        return ""
    return lines[0][len(_OWN) :] if lines[0].startswith(_OWN) else lines[0]


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
    import os

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
        import os

        if os.environ.get("POLSTER_TRACEBACK") == "1" or not report(value):
            previous(kind, value, tb)

    hook._polster = True
    sys.excepthook = hook
