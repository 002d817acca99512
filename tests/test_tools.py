"""A test whose tool cannot be had skips with the reason locally, and fails under CI=true."""

from __future__ import annotations

import subprocess
import sys

from polster_core.testing.projects import clean_env

from .helpers import REPO

PROBE = """
from polster_core.testing.tools import ToolMissing

def test_needs_a_tool():
    raise ToolMissing("frobnicator is not installed: apt-get install frobnicator")
"""


def run_probe(tmp_path, ci: str | None):
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = clean_env(CI=ci)
    if ci is None:
        env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-p", "conftest",
         "-rs", "-p", "no:cacheprovider", str(tmp_path / "test_probe.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_missing_tool_skips_with_its_reason_on_a_developer_machine(tmp_path):
    result = run_probe(tmp_path, None)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "frobnicator is not installed: apt-get install frobnicator" in result.stdout


def test_a_missing_tool_fails_under_ci(tmp_path):
    result = run_probe(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout
    assert "CI=true: a missing tool fails instead of skipping" in result.stdout
