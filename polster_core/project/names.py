"""Validation of the names users type: project names and asset names."""

from __future__ import annotations

import keyword
import re

from .. import LAYERS
from ..exceptions import PolsterError

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

# The Dagster key of any Polster asset, run_{layer}_{name} (the name as Dagster allows it; new
# names are checked against ASSET_KEY below).
RUN_ASSET_KEY = re.compile(rf"^run_({'|'.join(LAYERS)})_(\w+)$")


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


# Asset names: the `name` in `run_{layer}_{name}`, `src/core/{layer}_{name}.py` and
# `{layer}/{name}.parquet`. Lowercase so file names are the same on every file system; at most
# 40 characters so every generated line stays within the project's 100-character limit.
ASSET_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_ASSET_NAME = 40
ASSET_KEY = re.compile(r"^run_(bronze|silver|gold)_([a-z][a-z0-9_]*)$")


def asset_key(layer: str, name: str) -> str:
    """The Dagster asset key (and wrapper function name) of an asset: ``run_{layer}_{name}``."""
    return f"run_{layer}_{name}"


def split_asset_key(key: str) -> tuple[str, str] | None:
    """``run_silver_clean_users`` -> ``("silver", "clean_users")``; ``None`` if not a key."""
    match = ASSET_KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def asset_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an asset name, or ``None`` when it can."""
    if not name:
        return "an asset name is required"
    if "/" in name or "\\" in name or name.startswith("."):
        return f"'{name}' is a path, not an asset name"
    if len(name) > MAX_ASSET_NAME:
        return (
            f"asset name '{name[:20]}...' is too long ({len(name)} characters, "
            f"at most {MAX_ASSET_NAME})"
        )
    if not ASSET_NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        example = suggestion if ASSET_NAME.match(suggestion) else "customer_orders"
        return (
            f"'{name}' is not a valid asset name: start with a lowercase letter and use only "
            f"lowercase letters, digits and '_' (e.g. {example})"
        )
    if keyword.iskeyword(name):
        return f"'{name}' is a Python keyword"
    return None


def validate_asset_name(name: str | None) -> str:
    """Return ``name`` if it can be an asset name, else raise a one-line :class:`PolsterError`."""
    name = (name or "").strip()
    problem = asset_name_problem(name)
    if problem is None:
        return name
    if problem == "an asset name is required":
        raise PolsterError("an asset name is required: pass --name (e.g. --name customer_orders)")
    raise PolsterError(f"{problem}: choose another name")
