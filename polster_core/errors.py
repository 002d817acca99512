"""The exceptions a user can cause: the CLI prints their message as one line."""


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
