"""Helpers of Polster's own test suite that plugins do not need (theirs, and most of these
tests', are in ``polster_core.testing``: ``projects``, ``servers``, ``pipeline``, ...).

Also imported by ``tests/hostile.py``, which runs as a script.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

from polster_core.testing.projects import BIN, clean_env
from polster_core.testing.tools import ToolMissing

HERE = Path(__file__).parent

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def tmpfs(where: Path, size: str = "4m", read_only: bool = False):
    """A tmpfs of ``size`` mounted at ``where`` (made if missing), read-only if asked: a real
    disk that fills up, or refuses writes even to root. Mounting needs root; anywhere else
    :class:`ToolMissing` is raised (a test skips, and fails under CI=true)."""
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


def install_target(tmp_path_factory, *names: str) -> Path:
    """Install test plugin packages with uv into a directory of their own (not the venv)."""
    target = tmp_path_factory.mktemp("site")
    uv = str(BIN / "uv")
    sources = [str(HERE / "plugins" / name) for name in names]
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-deps", "--target", str(target), *sources],
        check=True,
    )
    return target


def with_plugins(site: Path) -> dict:
    return clean_env(PYTHONPATH=str(site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
