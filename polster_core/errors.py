"""The one exception type a user can cause: the CLI prints its message as one line."""


class PolsterError(Exception):
    """A problem the user can fix; ``str(error)`` says what is wrong and what to do.

    ``details`` is the full cause behind the one line (a traceback, a library's log), for
    ``run_polster.py --verbose`` and Dagster's log; empty when the line says it all. Whoever
    sets it masks secrets in it first.
    """

    details: str = ""
