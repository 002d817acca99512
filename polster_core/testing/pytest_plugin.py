"""Polster's pytest plugin (entry point ``pytest11``), active wherever polster is installed.

A test whose external tool cannot be had (:class:`~polster_core.testing.tools.ToolMissing`,
raised by ``polster_core.testing``'s helpers: actionlint, ruff, ...) skips with the reason, or
fails under ``CI=true``, in a plugin author's suite as in Polster's own. Nothing else here:
importing this module costs nothing.
"""

from __future__ import annotations

import pytest

from .tools import ToolMissing, skip_or_fail


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    except ToolMissing as exc:
        skip_or_fail(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    try:
        return (yield)
    except ToolMissing as exc:
        skip_or_fail(str(exc))
