"""docs/plugins.md: its example CI platform plugin works as a third party would use it."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest
import yaml

from polster_core import hookimpl, testing
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
    assert testing.schema_errors(path, "woodpecker") == []
    assert testing.schema_errors(path, "vendor.woodpecker-ci") == []


# schema_errors takes any schema check-jsonschema ships, or a schema file (issue 14) -----------

BITBUCKET = """pipelines:
  default:
    - step:
        name: check
        image: python:3.12
        script:
          - pytest
"""


def test_schema_errors_checks_any_platform_check_jsonschema_knows(tmp_path):
    good = tmp_path / "bitbucket-pipelines.yml"
    good.write_text(BITBUCKET, encoding="utf-8")
    bad = tmp_path / "bad.yml"
    bad.write_text("pipelines:\n  default: 42\n", encoding="utf-8")
    for schema in ("bitbucket", "vendor.bitbucket-pipelines"):
        assert testing.schema_errors(good, schema) == []
        assert testing.schema_errors(bad, schema) != []


def test_schema_errors_takes_a_schema_file_and_refuses_unknown_names(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "required": ["steps"]}), encoding="utf-8")
    ci_file = tmp_path / "ci.yml"
    ci_file.write_text("jobs: []\n", encoding="utf-8")
    assert testing.schema_errors(ci_file, schema) != []
    ci_file.write_text("steps: []\n", encoding="utf-8")
    assert testing.schema_errors(ci_file, str(schema)) == []
    with pytest.raises(ValueError, match="unknown schema 'jenkins'"):
        testing.schema_errors(ci_file, "jenkins")


# A readme_section without a heading gets one (issue 14) ---------------------------------------


def test_a_readme_section_without_a_heading_gets_the_continuous_integration_heading():
    from polster_core.scaffold import build_context, project_files
    from polster_core.specs import CIPlatform

    class Plain:
        @hookimpl
        def polster_ci_platforms(self, register):
            register(
                CIPlatform(
                    name="plain",
                    description="Plain CI (.plain.yml)",
                    render=lambda context: {".plain.yml": "run: pytest\n"},
                    readme_section=lambda context: "Set `PLAIN_TOKEN` in the plain CI's UI.",
                )
            )

    plugins = Plugins(autoload=False)
    plugins.pm.register(Plain(), name="plain")
    context = build_context("shop", plugins, "local", "plain")
    readme = project_files(context, plugins)["README.md"]
    assert (
        "### Continuous Integration (Plain CI)\n\nSet `PLAIN_TOKEN` in the plain CI's UI." in readme
    )
    # A section that brings its own heading keeps it.
    plugins = Plugins(autoload=False)
    plugins.pm.register(example_plugin(), name="woodpecker")
    own = CIPlatform("own", "Own CI", render=dict, readme_section=lambda c: "### Own\n\nText")
    from polster_core.scaffold import readme_section

    assert readme_section(own, context) == "### Own\n\nText"
