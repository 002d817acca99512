"""The one exception type a user can cause: the CLI prints its message as one line."""


class PolsterError(Exception):
    """A problem the user can fix; ``str(error)`` says what is wrong and what to do."""
