"""docs/plugins.md: its example CI platform plugin works as a third party would use it."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import yaml

from polster_core import testing
from polster_core.plugins import Plugins

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def example_plugin() -> types.ModuleType:
    text = DOC.read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(# polster_woodpecker/__init__.py\n.*?)```", text, re.S)
    module = types.ModuleType("polster_woodpecker")
    exec(compile(code, str(DOC), "exec"), module.__dict__)
    return module


def test_the_documented_plugin_registers_and_renders_a_valid_file(tmp_path):
    plugins = Plugins(autoload=False)
    plugins.pm.register(example_plugin(), name="woodpecker")
    platform = plugins.ci_platform("woodpecker")
    context = testing.ci_context("shop", "vault", testing.VAULT_SETTINGS)
    files = platform.render(context)
    text = files[".woodpecker/polster.yml"]
    data = yaml.safe_load(text)
    assert data["steps"][0]["commands"][-1] == "pytest"
    assert data["steps"][1]["environment"]["VAULT_TOKEN"] == {"from_secret": "VAULT_TOKEN"}
    assert "tok-3f9a" not in text
    path = tmp_path / "polster.yml"
    path.write_text(text, encoding="utf-8")
    check = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.woodpecker-ci", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
