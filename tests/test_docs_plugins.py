"""docs/plugins.md stays in step with the code: every hook, its arguments, the spec fields."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

from polster_core import hookspecs, remote
from polster_core.specs import Setting, StorageBackend

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def hook_specs() -> dict[str, str]:
    """``{hook name: "name(arg, ...)"}`` of every hook declared in hookspecs.py."""
    found = {}
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(function, "polster_spec"):
            args = ", ".join(inspect.signature(function).parameters)
            found[name] = f"{name}({args})"
    return found


def reference() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## Hook reference") :]


def test_every_hook_is_documented_with_its_arguments_and_nothing_else():
    documented = re.findall(r"^### `(\w+)\(([^)]*)\)`$", reference(), flags=re.M)
    assert {name: f"{name}({args})" for name, args in documented} == hook_specs()
    assert len(documented) == len(hook_specs())  # no hook twice


def field_table(section: str) -> list[str]:
    text = reference()
    start = text.index(f"`{section}` fields:")
    rows = re.findall(r"^\| `(\w+)` \|", text[start:].split("\n\n", 2)[1], flags=re.M)
    return rows


def test_spec_field_tables_match_the_dataclasses():
    assert field_table("StorageBackend") == [f.name for f in dataclasses.fields(StorageBackend)]
    assert field_table("Setting") == [f.name for f in dataclasses.fields(Setting)]


def test_the_guide_names_real_api():
    text = DOC.read_text(encoding="utf-8")
    for constant in ("FSSPEC", "POLARS", "UPLOAD", "RENAME"):
        assert hasattr(remote, constant) and constant in text
    for method in ("filesystem", "polars_options", "upload_options"):
        assert hasattr(remote.FsspecBackend, method) and f"def {method}(self)" in text
    # The CI platform helper fills the marked section.
    assert "<!-- polster:ci-platform-guide" in text
    assert "<!-- /polster:ci-platform-guide -->" in text


def test_the_executor_field_table_matches_the_dataclass():
    from polster_core.specs import Executor

    assert field_table("Executor") == [f.name for f in dataclasses.fields(Executor)]
