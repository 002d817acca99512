"""Validation of the names users type: project names and asset names."""

from __future__ import annotations

import keyword
import re

from .errors import PolsterError

PROJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
MAX_PROJECT_NAME = 64

# A project with one of these names would shadow a package it depends on.
RESERVED_PROJECT_NAMES = {
    "polster",
    "polster-core",
    "dagster",
    "dagster-webserver",
    "polars",
    "pyarrow",
    "python-dotenv",
    "core",
    "orchestration",
    "src",
    "tests",
    "test",
    "data",
}


def package_name(project_name: str) -> str:
    """The Python identifier form of a project name: ``dna-platform`` -> ``dna_platform``."""
    return project_name.replace("-", "_").lower()


def validate_project_name(name: str | None) -> str:
    """Return the name if it can be a directory, a distribution and a package name."""
    if name is None or not name.strip():
        raise PolsterError("a project name is required: polster init NAME (e.g. dna-platform)")
    if "/" in name or "\\" in name or name.startswith("."):
        raise PolsterError(
            f"'{name}' is not a project name but a path: give a plain name and use --path DIR "
            "to choose where it is created"
        )
    if len(name) > MAX_PROJECT_NAME:
        raise PolsterError(f"project name '{name[:20]}...' is too long: use at most 64 characters")
    if not PROJECT_NAME.match(name) or name.endswith(("-", "_")):
        raise PolsterError(
            f"'{name}' is not a valid project name: start with a letter and use only letters, "
            "digits, '-' and '_' (e.g. dna-platform)"
        )
    if keyword.iskeyword(package_name(name)) or keyword.iskeyword(name):
        raise PolsterError(f"'{name}' is a Python keyword: choose another project name")
    if name.lower().replace("_", "-") in RESERVED_PROJECT_NAMES:
        raise PolsterError(
            f"'{name}' would shadow a package the project depends on: choose another name"
        )
    return name
