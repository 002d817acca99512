"""``polster setup``: the project's ``.venv`` with the project, its dependencies and the same
polster (and plugins) that the user is running, from wherever they came from (PEP 610)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from ..exceptions import PolsterError, one_line
from .lock import SETUP_LOCK_FILE, project_lock
from .model import Project
from .origin import origin


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
    found = origin(dist_name)
    if found is None:
        return [dist_name]
    if found.kind == "dir" and found.local:
        return ["-e", found.local] if found.editable else [found.local]
    if found.kind == "archive":
        return [found.local or found.url]
    if found.kind == "vcs":
        return [f"{dist_name} @ {found.vcs}+{found.url}@{found.commit}"]
    return [f"{dist_name}=={found.version}"]


def _requirement_name(requirement: str) -> str:

    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def plugin_distributions(project: Project) -> list[str]:
    """polster and every installed polster plugin among the project's dependencies."""

    names = ["polster"]
    requirements = list(project.pyproject.get("project", {}).get("dependencies", []))
    # The dev group holds the CI platform's plugin: installed from the same place too.
    dev = project.pyproject.get("dependency-groups", {}).get("dev", [])
    requirements += [r for r in dev if isinstance(r, str)]
    for requirement in requirements:
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
    """Install the project (editable), its ``dev`` dependency group and the same polster and
    plugins as the ones running here, without a lock (``uv pip install`` or pip)."""
    requirements = ["-e", str(project.root), "--group", "dev"]
    for dist in plugin_distributions(project):
        requirements += source_requirement(dist)
    if uv:
        return [uv, "pip", "install", "--python", str(python), "--compile-bytecode", *requirements]
    return [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements]


LOCK_FILE = "uv.lock"


def local_sources(project: Project) -> list[str]:
    """polster distributions running here from a path or URL rather than a package index."""
    local = []
    for dist in plugin_distributions(project):
        requirement = source_requirement(dist)
        if len(requirement) != 1 or not requirement[0].startswith(f"{dist}=="):
            local.append(f"{dist} ({requirement[-1]})")
    return local


def install(project: Project, python: Path, uv: str | None, echo) -> None:
    """Install the project into the environment of ``python``.

    With uv, and polster and its plugins from a package index, the install is reproducible:
    ``uv lock`` writes ``uv.lock`` (the file the generated CI installs from with
    ``uv sync --locked``), then ``uv sync`` installs exactly what it records. When polster runs
    from a local checkout (or a wheel file), a lock would record that path, which no other
    machine has: then the project is installed as before, from that path, and no ``uv.lock``
    is written, which the message says.
    """
    venv = python.parent.parent
    local = local_sources(project)
    if uv and not local:
        echo(f"Locking {project.name}'s dependencies ({LOCK_FILE})")
        lock = project.root / LOCK_FILE
        before = lock.read_bytes() if lock.is_file() else None
        _run([uv, "lock"], project.root, f"resolving the dependencies into {LOCK_FILE}")
        if lock.is_file() and lock.read_bytes() != before:
            what = "written" if before is None else "changed"
            echo(f"{LOCK_FILE} {what}: commit it (CI installs from it with `uv sync --locked`)")
        echo(f"Installing {project.name} and its dependencies with uv (from {LOCK_FILE})")
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
        env.pop("VIRTUAL_ENV", None)
        command = [uv, "sync", "--locked", "--compile-bytecode", "--python", str(python)]
        _run(command, project.root, "installing the dependencies", env=env)
        return
    if not uv:
        # pip installs dependency groups (--group) from 25.1 on.
        _run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "pip>=25.1"],
            project.root, "upgrading pip",
        )  # fmt: skip
    echo(f"Installing {project.name} and its dependencies with {'uv' if uv else 'venv + pip'}")
    _run(install_command(project, python, uv), project.root, "installing the dependencies")
    if not (project.root / LOCK_FILE).exists():
        why = (
            f"{', '.join(local)} {'comes' if len(local) == 1 else 'come'} from this machine, "
            "and a lock would record that path"
            if local
            else "uv is not installed (`pip install uv`)"
        )
        echo(
            f"Note: no {LOCK_FILE} was written: {why}. The generated CI installs with "
            f"`uv sync --locked`: run `polster setup` where polster comes from a package index, "
            f"and commit {LOCK_FILE}"
        )


NEW_PREFIX = ".venv.polster-new-"
OLD_PREFIX = ".venv.polster-old-"


def setup(project: Project, force: bool = False, echo=print) -> Path:
    """Create (or with ``force`` recreate) ``.venv`` and install the project into it.

    A new environment is built beside ``.venv`` and moved into place only once complete: a
    failed or interrupted build leaves no half-built ``.venv`` and the previous one working.
    An existing one (without ``force``) is repaired in place.
    """

    venv = project.root / ".venv"
    uv = find_uv()
    tool = "uv" if uv else "venv + pip"
    started = time.perf_counter()
    with project_lock(project.root, "polster setup", name=SETUP_LOCK_FILE):
        _remove_leftovers(project.root)
        python = venv_python(venv)
        if python.exists() and not force:
            echo(f"Using the existing {venv} (pass --force to recreate it)")
            install(project, python, uv, echo)
        else:
            _build_beside(project, venv, uv, tool, echo)
    echo(f"Environment ready in {time.perf_counter() - started:.1f}s: {venv}")
    return venv


def _build_beside(project: Project, venv: Path, uv: str | None, tool: str, echo) -> None:
    """Build a complete environment at a temporary name, then swap it in for ``venv``."""
    new = project.root / f"{NEW_PREFIX}{os.urandom(4).hex()}"
    replacing = venv.exists() or venv.is_symlink()
    if replacing:
        echo(
            f"Building a new environment beside {venv} with {tool} (the current one stays "
            "until the new one is complete)"
        )
    else:
        echo(f"Creating {venv} with {tool}")
    try:
        if uv:
            create = [uv, "venv", "--quiet", "--python", sys.executable, str(new)]
        else:
            create = [sys.executable, "-m", "venv", "--prompt", venv.name, str(new)]
        _run(create, project.root, "creating the virtual environment")
        install(project, venv_python(new), uv, echo)
        _relocate(new, venv)
        _swap(new, venv)
    except BaseException:
        _remove(new)
        raise
    if replacing:
        echo(f"Replaced {venv} with the new environment")


def _relocate(built: Path, final: Path) -> None:
    """Rewrite the paths a venv bakes in (scripts' shebangs, activate scripts, pyvenv.cfg)
    from where it was built to where it will live."""
    old, new = str(built).encode(), str(final).encode()
    scripts = built / ("Scripts" if os.name == "nt" else "bin")
    for path in [built / "pyvenv.cfg", *sorted(scripts.iterdir())]:
        if path.is_symlink():
            target = os.readlink(path)
            if str(built) in target:
                path.unlink()
                path.symlink_to(target.replace(str(built), str(final)))
            continue
        if not path.is_file():
            continue
        data = path.read_bytes()
        if old not in data or b"\0" in data:  # binaries keep their bytes
            continue
        mode = path.stat().st_mode
        path.write_bytes(data.replace(old, new))
        os.chmod(path, mode)


def _swap(new: Path, venv: Path) -> None:
    """Put ``new`` at ``venv``; the previous environment is removed only after that."""
    old = None
    if venv.exists() or venv.is_symlink():
        old = venv.with_name(f"{OLD_PREFIX}{os.urandom(4).hex()}")
        os.replace(venv, old)
    try:
        os.replace(new, venv)
    except BaseException:
        if old is not None:
            os.replace(old, venv)
        raise
    if old is not None:
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _remove_leftovers(root: Path) -> None:
    """Environments a killed ``polster setup`` left at a temporary name."""
    for path in root.glob(".venv.polster-*"):
        if path.name.startswith((NEW_PREFIX, OLD_PREFIX)):
            _remove(path)


def _run(command: list[str], cwd: Path, what: str, env: dict | None = None) -> None:
    try:
        result = subprocess.run(command, cwd=cwd, env=env)
    except OSError as exc:
        raise PolsterError(f"{what} failed: {exc}") from None
    if result.returncode != 0:
        raise PolsterError(
            f"{what} failed (exit {result.returncode}); the output above says why. "
            "Fix it and run `polster setup` again"
        )


def relock(root: Path, changed: list[Path]) -> str | None:
    """After a command changed ``pyproject.toml`` (``changed``: the paths its plan wrote), bring
    the project's ``uv.lock`` in step, so that CI's ``uv sync --locked`` stays green. Returns
    the line to print (None when the project has no lock, or pyproject.toml did not change)."""
    pyproject = root / "pyproject.toml"
    if not (root / LOCK_FILE).is_file() or all(p != pyproject for p in changed):
        return None
    uv = find_uv()
    if uv is None:
        return (
            f"warning: {LOCK_FILE} is out of date with pyproject.toml's dependencies: install uv "
            f"(`pip install uv`) and run `uv lock`, then commit {LOCK_FILE}"
        )
    try:
        done = subprocess.run(
            [uv, "lock", "--quiet"], cwd=root, capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        done = subprocess.CompletedProcess([uv], 1, "", reason)
    if done.returncode != 0:
        why = one_line((done.stderr.strip().splitlines() or ["uv lock failed"])[-1])[:300]
        return (
            f"warning: {LOCK_FILE} is out of date with pyproject.toml ({why}): run `uv lock` "
            f"there, then commit {LOCK_FILE}"
        )
    return (
        f"Updated {LOCK_FILE} for the new dependencies: commit it with pyproject.toml "
        "(`polster setup` installs them here)"
    )
