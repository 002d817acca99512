"""The file-only commands never import Dagster or polars (nor pyarrow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from polster_core.testing.projects import clean_env

from .assets_helpers import new_project

HEAVY = ("dagster", "polars", "pyarrow", "dataframely")

# Runs the real CLI entry point in-process, then reports which heavy modules got imported.
PROBE = f"""
import sys
from polster_core.cli.app import main
sys.argv = ["polster", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return new_project(tmp_path_factory.mktemp("light"))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["add-asset", "--help"],
        ["add-asset", "--layer", "bronze", "--name", "orders", "--template", "csv"],
        ["add-asset", "--layer", "silver", "--name", "clean", "--deps", "orders", "--dry-run"],
        ["list"],
        ["list", "--json"],
        ["list", "--graph"],
        ["check"],
        ["remove-asset", "--layer", "bronze", "--name", "orders", "--purge-data"],
        ["add-asset", "--layer", "bronze", "--name", "bad-name"],
        ["contract", "--help"],
        ["contract", "infer", "--help"],
        ["add-asset", "--layer", "silver", "--name", "kept", "--deps", "example", "--contract"],
    ],
    ids=lambda args: " ".join(args),
)
def test_file_only_commands_import_neither_dagster_nor_polars(project, args):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    heavy = next(line for line in result.stderr.splitlines() if line.startswith("HEAVY="))
    assert heavy == "HEAVY=", f"{' '.join(args)} imported {heavy[6:]}"
    if "--contract" in args:
        assert result.returncode == 0, result.stdout + result.stderr


def test_importtime_of_list_has_no_heavy_module(project):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE, "list"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "polster_core" in imported
    assert not imported & set(HEAVY)
