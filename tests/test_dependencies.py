"""The dependency ranges Polster declares and pins in projects resolve as written (issue 26)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from polster_core.plugins import get_plugins

from .helpers import REPO

DISTRIBUTIONS = [REPO / "pyproject.toml", *sorted(REPO.glob("plugins/*/pyproject.toml"))]


@pytest.mark.parametrize("pyproject", DISTRIBUTIONS, ids=lambda p: p.parent.name)
def test_every_extra_asked_for_exists(pyproject: Path) -> None:
    """An extra a package no longer has is only a warning for pip and uv, and its packages
    are then silently missing (s3fs[boto3] once)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for text in requirements:
        requirement = Requirement(text)
        if not requirement.extras:
            continue
        try:
            offered = metadata(requirement.name).get_all("Provides-Extra") or []
        except PackageNotFoundError:
            continue  # not installed here: nothing to check against
        offered = {extra.replace("_", "-").lower() for extra in offered}
        for extra in requirement.extras:
            assert extra.replace("_", "-").lower() in offered, f"{text}: no extra '{extra}'"


def test_projects_pin_each_plugin_to_its_minor_line(monkeypatch) -> None:
    monkeypatch.delenv("POLSTER_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    plugins = get_plugins()
    specs = [*plugins.storage_backends().values(), *plugins.executors().values()]
    pinned = [spec.requirement for spec in specs if spec.requirement]
    assert {"polster-s3", "polster-adls", "polster-celery"} <= {
        Requirement(text).name for text in pinned
    }
    for text in pinned:
        bounds = {spec.operator for spec in Requirement(text).specifier}
        assert bounds == {">=", "<"}, text
