"""Shared helpers: run the real `polster` CLI in a subprocess, hash trees, make projects."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from polster_core.testing.tools import ToolMissing

BIN = Path(sys.executable).parent
POLSTER = str(BIN / "polster")
REPO = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI run: hermetic (built-in plugins only) unless told otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSTER_", "DAGSTER_"))}
    env["POLSTER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def run_polster(
    *args: str, cwd: Path, env: dict | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [POLSTER, *args],
        cwd=cwd,
        env=env or clean_env(),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tree_hash(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with a hash of its bytes."""
    found = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            found[rel + "/"] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def polster():
    return run_polster


@pytest.fixture(scope="session")
def example_project(tmp_path_factory) -> Path:
    """One project made by `polster init --no-setup --no-git`, shared read-only by tests."""
    parent = tmp_path_factory.mktemp("example")
    result = run_polster("init", "dna-platform", "--no-git", "--no-setup", cwd=parent)
    assert result.returncode == 0, result.stderr
    return parent / "dna-platform"


@contextmanager
def tmpfs(where: Path, size: str = "4m", read_only: bool = False):
    """A tmpfs of ``size`` mounted at ``where`` (made if missing), read-only if asked: a real
    disk that fills up, or refuses writes even to root. Mounting needs root; anywhere else the
    test skips (and fails under CI=true)."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        raise ToolMissing(f"cannot mount a tmpfs here (it needs root): {mount.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def fill(disk: Path) -> None:
    """Fill ``disk`` to the last byte."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MB tmpfs of its own (root mounts it; anywhere else the test cannot run)."""
    with tmpfs(tmp_path / "disk") as disk:
        yield disk
