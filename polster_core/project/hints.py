"""Commands that a message asks the user to run, written for the environment it runs in.

A project's ``.venv`` built by uv has no ``pip``, and with it active, ``pip`` on the PATH is
another interpreter's: "run pip install polster-adls" would install into the wrong place, or
not at all. :func:`install_command` names the installer that reaches the Python running now.
File-only: no Dagster, polars or cloud SDK is imported here.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path


def install_command(dist: str) -> str:
    """The command that installs ``dist`` beside the polster running now: ``pipx inject`` or
    ``uv tool install --with`` for a tool install, else pip or uv for this very interpreter."""
    parts = Path(sys.prefix).parts
    if "pipx" in parts and "venvs" in parts:
        return f"pipx inject polster {dist}"
    if "uv" in parts and "tools" in parts:
        return f"uv tool install polster --with {dist}"
    python = _shown(sys.executable)
    if has_pip():
        return f"{python} -m pip install {dist}"
    return f"uv pip install {dist} --python {python}"


def has_pip(python: Path | None = None) -> bool:
    """Whether ``python`` (default: the one running now) can run ``python -m pip``: a ``.venv``
    made by uv cannot."""
    if python is None or python == Path(sys.executable):
        return importlib.util.find_spec("pip") is not None
    try:
        found = subprocess.run(
            [str(python), "-c", "import pip"], capture_output=True, env={**os.environ}, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it is below it (``.venv/bin/python``)."""
    try:
        rel = Path(path).relative_to(Path.cwd())
    except ValueError:
        return path
    return rel.as_posix() if os.sep == "/" else str(rel)
