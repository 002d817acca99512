"""Run the real ``polster`` command as a user runs it, and make projects with it.

For Polster's tests and plugin authors' alike: the ``polster`` beside the running Python (the
test environment's), in a subprocess, with a clean environment. :func:`clean_env` is hermetic
(built-in plugins only); :func:`plugin_env` loads the installed plugins, as for a user.

- :func:`run_polster` runs ``polster ARGS``; :func:`assert_one_line_error` checks a refused
  command said one line and no traceback; :func:`tree_hash` shows that it changed nothing;
- :func:`init_project` (and the ``make_project`` fixture, from Polster's pytest plugin) makes
  a project with ``polster init --no-git --no-setup``; :func:`set_env` edits its ``.env`` as
  a user does; :func:`run_python` runs the test environment's Python in it.

Nothing here is imported by the CLI.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
POLSTER = str(BIN / "polster")


def clean_env(**extra: str | None) -> dict[str, str]:
    """The environment for a CLI run: hermetic (built-in plugins only) unless told otherwise;
    ``NAME=None`` removes ``NAME``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSTER_", "DAGSTER_"))}
    env["POLSTER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def plugin_env(**extra: str | None) -> dict[str, str]:
    """A clean environment in which installed plugins load (as for a user), unless ``extra``
    sets ``POLSTER_DISABLE_PLUGIN_AUTOLOAD``."""
    return clean_env(**{"POLSTER_DISABLE_PLUGIN_AUTOLOAD": None, **extra})


def run_polster(
    *args: str, cwd: Path, env: dict | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``polster ARGS`` in ``cwd`` (stdin closed unless ``input`` is given), its output kept."""
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


def run_python(project: Path, *args: str, env: dict | None = None, timeout: float = 300):
    """The test environment's Python in the project, as an activated venv would run it."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env or clean_env(PYTHONPATH=str(project / "src")),
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


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """A refused command: non-zero exit, no traceback, one line on stderr holding every
    fragment. Returns that line."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def init_project(
    parent: Path, storage: str | None = None, name: str = "dna-platform", env: dict | None = None
) -> Path:
    """``parent/name``, made by ``polster init NAME [--storage STORAGE] --no-git --no-setup``.

    With a ``storage``, the installed plugins load (:func:`plugin_env`: the backend is a
    plugin's); without, only the built-ins (:func:`clean_env`). ``env`` replaces either."""
    args = ["init", name] + (["--storage", storage] if storage else []) + ["--no-git", "--no-setup"]
    if env is None:
        env = plugin_env() if storage else clean_env()
    result = run_polster(*args, cwd=parent, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return parent / name


def set_env(project: Path, **values: str) -> None:
    """Set variables in the project's ``.env``, as a user edits it."""
    path = project / ".env"
    lines = path.read_text(encoding="utf-8").splitlines()
    for key, value in values.items():
        for i, line in enumerate(lines):
            if line.startswith(f"{key}="):
                lines[i] = f"{key}={value}"
                break
        else:
            lines.append(f"{key}={value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def make_project(tmp_path_factory):
    """``make_project(name="dna-platform", storage=None, env=None)``: :func:`init_project` in
    a new temporary folder. Session-scoped, so module-scoped fixtures can share a project."""

    def make(name: str = "dna-platform", storage: str | None = None, env: dict | None = None):
        return init_project(tmp_path_factory.mktemp(name), storage, name, env=env)

    return make
