"""Polster's exceptions and the plain text of an error: the bottom of the package.

:class:`PolsterError` is the one exception type a user can cause; :func:`describe` says in
a sentence what went wrong for the errors a user can fix (unmasked: the error boundaries in
:mod:`polster_core.errors` mask secrets in it). Imports nothing of Polster, so every module
can use it. Generated projects and plugins import these names from ``polster_core.errors``,
which re-exports them.
"""

from __future__ import annotations

import errno
import traceback
import unicodedata
from collections.abc import Iterator
from pathlib import PurePath

# The heading of an error's full cause (its ``details``) in Dagster's log of a run.
FULL_CAUSE = "Full cause (secrets masked):"


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


def describe(exc: BaseException) -> str | None:
    """What went wrong and what to do, in a sentence, for an error a user can fix (not masked:
    see :func:`polster_core.errors.user_message`); ``None`` for anything else."""
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


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (empty when it has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc``, then its cause or context, and theirs, each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
