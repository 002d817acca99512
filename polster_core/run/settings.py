"""Run-time settings of a generated project: the environment, with ``.env`` loaded beneath it.

Variables already set in the environment win over ``.env`` (so CI secrets and shell exports
override the file). Values are never printed; errors name the variable only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import PolsterError
from ..project.envfile import load

TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """The settings of one project: its root, its name and its environment."""

    root: Path
    project_name: str
    env: Mapping[str, str]

    def __post_init__(self) -> None:
        # A plugin author's test may pass the root as a string ("tmp/demo"): a Path from here.
        object.__setattr__(self, "root", Path(self.root))

    def get(self, name: str, default: str = "") -> str:
        value = self.env.get(name)
        return default if value is None or value == "" else value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.env.get(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise PolsterError(f"{name} must be true or false, not '{value}': fix it in .env")

    def integer(self, name: str, default: int) -> int:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < 0:
            raise PolsterError(f"{name} must be a whole number >= 0, not '{value}': fix it in .env")
        return number

    def seconds(self, name: str, default: float) -> float:
        """A duration in seconds (a number > 0), ``default`` when unset."""
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        try:
            number = float(value)
        except ValueError:
            number = 0
        if not number > 0 or number == float("inf"):
            raise PolsterError(
                f"{name} must be a number of seconds > 0, not '{value}': fix it in .env"
            )
        return number

    @property
    def storage_backend(self) -> str:
        return self.get("STORAGE_BACKEND", "local").strip().lower()

    @property
    def sample_size(self) -> int:
        return self.integer("DUAL_WRITE_SAMPLE_SIZE", 50)

    @property
    def local_sample_disabled(self) -> bool:
        return self.flag("DISABLE_LOCAL_SAMPLE")

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


def load_dotenv(root: Path) -> None:
    """Load ``root/.env`` into ``os.environ`` without overriding what is already set, with
    python-dotenv's semantics (the last of two lines wins), through the one ``.env`` reader
    every command uses too (:mod:`polster_core.project.envfile`)."""

    load(root)


def load_settings(root: Path | str, project_name: str | None = None) -> Settings:
    root = Path(root).resolve()
    load_dotenv(root)
    if project_name is None:
        from ..project.model import is_polster_project, load_project

        project_name = load_project(root).name if is_polster_project(root) else root.name
    return Settings(root=root, project_name=project_name, env=os.environ)


def add_src_to_pythonpath(root: Path) -> None:
    """Put the project's ``src/`` first on ``PYTHONPATH``, for the processes a run starts
    (workers, Celery's, Dagster's): they import the project's packages as this one does."""
    paths = [str(Path(root) / "src"), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
