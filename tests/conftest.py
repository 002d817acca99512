"""Fixtures of Polster's own tests. Helpers live in ``polster_core.testing`` (``projects``:
the real CLI in a subprocess; ``servers`` and ``services``: real servers, whose fixtures and
``make_project`` come from Polster's pytest plugin) and in ``tests/helpers.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from polster_core.testing.projects import run_polster

from .helpers import install_target, tmpfs


@pytest.fixture
def polster():
    return run_polster


@pytest.fixture(scope="session")
def example_project(make_project) -> Path:
    """One project made by `polster init --no-setup --no-git`, shared read-only by tests."""
    return make_project("dna-platform")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MB tmpfs of its own (root mounts it; anywhere else the test cannot run)."""
    with tmpfs(tmp_path / "disk") as disk:
        yield disk


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory) -> Path:
    """A folder with the test plugin polster_hello installed (put it on PYTHONPATH)."""
    return install_target(tmp_path_factory, "polster_hello")


@pytest.fixture(scope="session")
def broken_site(tmp_path_factory) -> Path:
    """polster_hello and polster_broken, a plugin whose import fails."""
    return install_target(tmp_path_factory, "polster_broken", "polster_hello")
