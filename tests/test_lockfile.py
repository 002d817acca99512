"""Reproducible installs: `polster setup` writes uv.lock when polster comes from a package
index, the CI's `uv sync --locked` installs from it, and a project made from a local checkout
of Polster never commits a path of this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from polster_core import ci
from polster_core.testing.projects import BIN, clean_env, run_polster

from .helpers import REPO

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, env: dict, timeout: float = 600):
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_setup_locks_when_polster_comes_from_an_index(tmp_path):
    """A wheel folder stands in for the package index (UV_FIND_LINKS); polster is installed
    from it as a user's `pip install polster` would, then creates a project."""
    uv = str(BIN / "uv")
    (tmp_path / "index").mkdir()
    env = clean_env(UV_FIND_LINKS=str(tmp_path / "index"))
    built = run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path / "index"), str(REPO)], tmp_path, env
    )
    assert built.returncode == 0, built.stderr
    user = tmp_path / "user-env"
    assert (
        run([uv, "venv", "-q", "--python", sys.executable, str(user)], tmp_path, env).returncode
        == 0
    )
    installed = run(
        [uv, "pip", "install", "-q", "--python", str(user / "bin/python"), "polster"], tmp_path, env
    )
    assert installed.returncode == 0, installed.stderr
    made = run([str(user / "bin/polster"), "init", "shop", "--git", "--no-input"], tmp_path, env)
    assert made.returncode == 0, made.stdout + made.stderr
    project = tmp_path / "shop"
    lock = (project / "uv.lock").read_text()
    assert 'name = "polster"' in lock and 'name = "dagster-dg-cli"' in lock
    assert "Committed uv.lock" in made.stdout
    tracked = run(["git", "ls-files", "uv.lock"], project, env).stdout
    assert tracked.strip() == "uv.lock"
    assert "no uv.lock was written" not in made.stdout
    # The CI's install command, exactly as the CI files run it, accepts the lock as it is.
    synced = run(ci.INSTALL.command.split(), project, env)
    assert synced.returncode == 0, synced.stderr
    result = run([str(project / ".venv/bin/python"), "run_polster.py"], project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Succeeded: 3 materialised" in result.stdout


def test_a_project_from_a_local_checkout_commits_no_path_of_this_machine(tmp_path):
    made = run_polster("init", "shop", "--git", "--no-input", cwd=tmp_path, timeout=600)
    assert made.returncode == 0, made.stdout + made.stderr
    project = tmp_path / "shop"
    assert not (project / "uv.lock").exists()
    assert f"polster ({REPO}) comes from this machine" in made.stdout
    assert "commit uv.lock" in made.stdout
    for rel in run(["git", "ls-files"], project, clean_env()).stdout.split():
        text = (project / rel).read_text(errors="replace")
        assert str(REPO) not in text and str(tmp_path) not in text, rel


def test_the_lock_follows_every_change_of_the_dependencies(tmp_path):
    """A project with a uv.lock (polster from a package index): add-asset with a template that
    needs a package, and polster upgrade, leave a lock that `uv lock --check` (and so CI's
    `uv sync --locked`) accepts, and say so; setup says when it changed the lock."""
    uv = str(BIN / "uv")
    index = tmp_path / "index"
    index.mkdir()
    env = clean_env(UV_FIND_LINKS=str(index))
    built = run([uv, "build", "--wheel", "--out-dir", str(index), str(REPO)], tmp_path, env)
    assert built.returncode == 0, built.stderr
    made = run_polster("init", "shop", "--no-git", "--no-setup", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "shop"
    locked = run([uv, "lock", "--quiet"], project, env)
    assert locked.returncode == 0, locked.stderr
    assert run([uv, "lock", "--check"], project, env).returncode == 0

    added = run_polster(
        "add-asset", "-l", "bronze", "-n", "sheet", "-t", "excel", cwd=project, env=env
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert added.stdout.strip().splitlines()[-1].startswith("Updated uv.lock")
    assert 'name = "fastexcel"' in (project / "uv.lock").read_text()
    check = run([uv, "lock", "--check"], project, env)
    assert check.returncode == 0, check.stderr

    # A change that leaves the dependencies alone leaves the lock alone, and says nothing.
    lock = (project / "uv.lock").read_bytes()
    plain = run_polster("add-asset", "-l", "bronze", "-n", "other", cwd=project, env=env)
    assert plain.returncode == 0, plain.stderr
    assert "uv.lock" not in plain.stdout + plain.stderr
    assert (project / "uv.lock").read_bytes() == lock
