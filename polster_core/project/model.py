"""The model of a Polster project on disk: its root and its ``[tool.polster]`` settings."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import PolsterError
from .lock import hold, settle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass
class Project:
    root: Path
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    pyproject: dict[str, Any] = field(default_factory=dict)

    @property
    def storage(self) -> str:
        return self.config.get("storage", "local")

    @property
    def platform(self) -> str:
        return self.config.get("platform", "")

    def plugin_problems(self, plugins) -> tuple[list[str], list[str]]:
        """What ``[tool.polster]`` names that the installed plugins cannot provide, as
        (problems, warnings). The storage backend is a dependency of the project, needed to
        run it: a problem. The CI platform's plugin is needed only to write the CI files
        (``polster init``, ``polster enable``), not in the project's own environment (where
        its CI runs ``polster check``): a warning."""
        problems, warnings = [], []
        wanted = [("storage", self.storage, plugins.storage_backend, problems)]
        if self.platform not in ("", "none"):
            wanted.append(("platform", self.platform, plugins.ci_platform, warnings))
        for key, value, lookup, found in wanted:
            if not isinstance(value, str):
                problems.append(f"[tool.polster] {key} must be a string, not {value!r}")
                continue
            try:
                lookup(value.strip().lower())
            except PolsterError as exc:
                found.append(f"[tool.polster] {key} = {value!r}: {exc}")
        return problems, warnings


def read_pyproject(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolsterError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PolsterError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolsterError(f"{path} is not valid TOML ({exc}): fix that line") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        raise PolsterError(
            f"{path} nests arrays or tables too deeply to read: fix it (or restore it from git)"
        ) from None


def is_polster_project(directory: Path) -> bool:
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        data = read_pyproject(pyproject)
    except PolsterError:
        return False
    return isinstance(data.get("tool", {}).get("polster"), dict)


def find_project(start: Path | None = None) -> Project:
    """The project containing ``start`` (default: the working directory), walking upwards.

    A pyproject.toml that cannot be read on the way is reported when no project is found:
    it is most likely the project's own, broken.
    """
    start = (start or Path.cwd()).resolve()
    broken = None
    for directory in (start, *start.parents):
        pyproject = directory / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            data = read_pyproject(pyproject)
        except PolsterError as exc:
            broken = broken or exc
            continue
        if isinstance(data.get("tool", {}).get("polster"), dict):
            settle(directory)  # a command a kill cut short: finished or undone first
            return load_project(directory)
    if broken is not None:
        raise broken
    raise PolsterError(
        f"{start} is not inside a Polster project (no pyproject.toml with a [tool.polster] "
        "table): cd into one, or create one with `polster init NAME`"
    )


def load_project(root: Path) -> Project:
    data = read_pyproject(root / "pyproject.toml")
    config = data.get("tool", {}).get("polster")
    if not isinstance(config, dict):
        raise PolsterError(f"{root / 'pyproject.toml'} has no [tool.polster] table")
    name = data.get("project", {}).get("name") or root.name
    return Project(root=root, name=name, config=config, pyproject=data)


def hold_for_command(project: Project, command: str) -> Project:
    """Lock ``project`` until the running command ends (:func:`polster_core.project.lock.hold`), and
    return it read again under the lock: as the command before this one left it."""
    hold(project.root, command)
    return load_project(project.root)
