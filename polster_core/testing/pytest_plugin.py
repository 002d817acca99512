"""Polster's pytest plugin (entry point ``pytest11``), active wherever polster is installed.

- A test whose external tool cannot be had (:class:`~polster_core.testing.tools.ToolMissing`,
  raised by ``polster_core.testing``'s helpers and fixtures: actionlint, ruff, Azurite, ...)
  skips with the reason, or fails under ``CI=true``, in a plugin author's suite as in
  Polster's own.
- The real-server fixtures of :mod:`.servers` (``moto``, ``moto_factory``, ``azurite``,
  ``azurite_factory``, ``sshd``, ``silent_server``) and :mod:`.services` (``postgres``,
  ``redis_url``, ``rabbitmq_url``), so that a plugin's tests run on their own, with no
  conftest.py. Each server starts only when a test asks for its fixture;
- ``make_project`` (:mod:`.projects`): a project made by the real ``polster init``;
- the marker ``slow`` (a test that builds a real virtual environment), so ``-m "not slow"``
  works in every suite.

Importing this module imports pytest and the standard library only.
"""

from __future__ import annotations

import pytest

from .projects import make_project  # noqa: F401  (a fixture)
from .servers import (  # noqa: F401  (fixtures, offered to every test suite)
    azurite,
    azurite_factory,
    moto,
    moto_factory,
    silent_server,
    sshd,
)
from .services import postgres, rabbitmq_url, redis_url  # noqa: F401  (fixtures)
from .tools import ToolMissing, skip_or_fail


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: builds a real virtual environment (uv) for a generated project"
    )


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
