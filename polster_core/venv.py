"""``polster setup``: the project's ``.venv`` with the project, its dependencies and the same
polster (and plugins) that the user is running, from wherever they came from (PEP 610)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import PolsterError
from .project import Project


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_uv() -> str | None:
    """``uv`` on PATH, or beside the Python running polster (``pip install uv``)."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    return str(beside) if beside.exists() else None


def source_requirement(dist_name: str) -> list[str]:
    """How to install the same ``dist_name`` as the one running here.

    From its local directory (editable if it was) or wheel when it was installed from a path,
    from its VCS URL, or ``name==version`` from the index.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return [dist_name]
    text = dist.read_text("direct_url.json")
    if not text:
        return [f"{dist_name}=={dist.version}"]
    info = json.loads(text)
    url = info.get("url", "")
    parsed = urlparse(url)
    local = unquote(parsed.path) if parsed.scheme == "file" else None
    if "dir_info" in info and local:
        return ["-e", local] if info["dir_info"].get("editable") else [local]
    if "archive_info" in info:
        return [local or url]
    if "vcs_info" in info:
        vcs = info["vcs_info"]
        return [f"{dist_name} @ {vcs['vcs']}+{url}@{vcs.get('commit_id', '')}"]
    return [f"{dist_name}=={dist.version}"]


def _requirement_name(requirement: str) -> str:
    import re

    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def plugin_distributions(project: Project) -> list[str]:
    """polster and every installed polster plugin among the project's dependencies."""
    from importlib.metadata import PackageNotFoundError, distribution

    names = ["polster"]
    for requirement in project.pyproject.get("project", {}).get("dependencies", []):
        name = _requirement_name(requirement)
        if not name or name in names:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        if any(ep.group == "polster" for ep in dist.entry_points):
            names.append(name)
    return names


def install_command(project: Project, python: Path, uv: str | None) -> list[str]:
    # The project, editable, and its `dev` dependency group (run from the project's root).
    requirements = ["-e", str(project.root), "--group", "dev"]
    for dist in plugin_distributions(project):
        requirements += source_requirement(dist)
    if uv:
        return [uv, "pip", "install", "--python", str(python), "--compile-bytecode", *requirements]
    return [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements]


def setup(project: Project, force: bool = False, echo=print) -> Path:
    """Create (or with ``force`` recreate) ``.venv`` and install the project into it."""
    venv = project.root / ".venv"
    uv = find_uv()
    tool = "uv" if uv else "venv + pip"
    started = time.perf_counter()
    if venv.exists() and force:
        echo(f"Removing {venv}")
        shutil.rmtree(venv)
    python = venv_python(venv)
    if not python.exists():
        echo(f"Creating {venv} with {tool}")
        if uv:
            create = [uv, "venv", "--quiet", "--python", sys.executable, str(venv)]
        else:
            create = [sys.executable, "-m", "venv", str(venv)]
        _run(create, project.root, "creating the virtual environment")
    else:
        echo(f"Using the existing {venv} (pass --force to recreate it)")
    command = install_command(project, python, uv)
    echo(f"Installing {project.name} and its dependencies with {tool}")
    _run(command, project.root, "installing the dependencies")
    echo(f"Environment ready in {time.perf_counter() - started:.1f}s: {venv}")
    return venv


def _run(command: list[str], cwd: Path, what: str) -> None:
    try:
        result = subprocess.run(command, cwd=cwd)
    except OSError as exc:
        raise PolsterError(f"{what} failed: {exc}") from None
    if result.returncode != 0:
        raise PolsterError(
            f"{what} failed (exit {result.returncode}); the output above says why. "
            "Fix it and run `polster setup` again"
        )
