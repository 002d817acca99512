"""Root of the test suite (core and plugins): a test whose external tool cannot be had skips
with the reason, except under CI=true, where it fails (see polster_core.testing.tools)."""

from __future__ import annotations

import pytest

from polster_core.testing.tools import ToolMissing, skip_or_fail


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
