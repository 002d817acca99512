"""External tools that tests need (node packages, servers, a browser), and what happens when
one cannot be had.

A helper that needs a tool raises :class:`ToolMissing` with what is missing and how to get it.
Polster's pytest plugin (:mod:`polster_core.testing.pytest_plugin`, entry point ``pytest11``,
active wherever polster is installed) turns that into a skip with the reason on a developer's
machine and into a failure under ``CI=true``, so CI never goes green by skipping, in Polster's
suite and in a plugin author's alike; :func:`skip_or_fail` does the same by hand.
"""

from __future__ import annotations

import os


class ToolMissing(RuntimeError):
    """A tool a test needs is not installed; the message says which and how to install it."""


def skip_or_fail(message: str):
    """Skip the running test with ``message``, or fail it when ``CI`` is set."""
    import pytest

    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message} (CI=true: a missing tool fails instead of skipping)")
    pytest.skip(message)
