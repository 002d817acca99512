"""Installing a missing plugin for ``polster enable NAME``, from wherever polster itself came
from (PEP 610): this repository's ``plugins/`` folder when polster runs from a checkout (editable
when polster is), the same VCS commit, a wheel beside polster's own, or the package index at
polster's minor line. File-only: no Dagster, polars or cloud SDK is imported here.
"""

from __future__ import annotations

import importlib
import site
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from ..errors import one_line
from ..exceptions import PolsterError
from ..plugin_system.specs import compatible_requirement
from .hints import has_pip, install_command
from .origin import origin


def is_installed(dist: str) -> bool:

    try:
        distribution(dist)
    except PackageNotFoundError:
        return False
    return True


def plugin_source(dist: str) -> list[str]:
    """How to install plugin ``dist`` (e.g. ``polster-adls``) from where polster came from."""
    package = dist.replace("-", "_")
    polster = origin("polster")
    if polster is None:  # polster itself runs from source, not installed
        return [dist]
    local = Path(polster.local) if polster.local else None
    if polster.kind == "dir" and local is not None:
        folder = local / "plugins" / package
        if (folder / "pyproject.toml").is_file():
            return ["-e", str(folder)] if polster.editable else [str(folder)]
    elif polster.kind == "archive" and local is not None:
        wheels = sorted(local.parent.glob(f"{package}-*.whl"))
        if wheels:
            return [str(wheels[-1])]
    elif polster.kind == "vcs":
        return [
            f"{dist} @ {polster.vcs}+{polster.url}@{polster.commit}#subdirectory=plugins/{package}"
        ]
    return [compatible_requirement(dist, polster.version)]


def environments(project_root: Path) -> list[Path]:
    """The Pythons to install into: the one running polster (so this command can use the
    plugin) and the project's ``.venv`` when that is another one."""
    pythons = [Path(sys.executable)]
    from .venv import venv_python

    own = venv_python(project_root / ".venv")
    if own.is_file() and Path(sys.prefix).resolve() != (project_root / ".venv").resolve():
        pythons.append(own)
    return pythons


def install_plugin(dist: str, project_root: Path, echo) -> bool:
    """Install ``dist`` into :func:`environments`; one clear line when it cannot be. True when
    the project's ``.venv`` got it too (or is the environment running polster)."""
    from .venv import find_uv

    requirement = plugin_source(dist)
    uv = find_uv()
    pythons = environments(project_root)
    for python in pythons:
        shown = " ".join(requirement)
        echo(f"Installing {dist} into {python.parent.parent} ({shown})")
        if uv:
            command = [uv, "pip", "install", "--quiet", "--python", str(python), *requirement]
        elif has_pip(python):
            command = [str(python), "-m", "pip", "install", "--quiet", *requirement]
        else:
            raise PolsterError(
                f"{dist} is not installed and neither uv nor pip is available to install it: "
                f"run `{install_command(dist)}`, then `polster enable` again"
            )
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            done = subprocess.CompletedProcess(command, 1, "", str(exc))
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
            raise PolsterError(
                f"installing {dist} failed ({one_line(lines[-1])[:300]}): run "
                f"`{install_command(dist)}`, then `polster enable` again (nothing was changed)"
            )
    # An editable install is a new .pth file, read only at start: read it now, so that this
    # process imports the plugin; entry points are read afresh from the new metadata.
    for folder in site.getsitepackages():
        site.addsitedir(folder)
    importlib.invalidate_caches()
    from ..plugin_system.manager import reset_plugins

    reset_plugins()
    own = (project_root / ".venv").resolve()
    return any(python.parent.parent.resolve() == own for python in pythons)
