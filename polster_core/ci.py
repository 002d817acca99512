"""What every generated CI pipeline does; CI platform plugins render it in their own idiom.

On push and pull/merge request: install the project with uv, then run :data:`CHECKS` in order.
On a daily schedule (:data:`SCHEDULE_CRON`, 06:00 UTC) and on a manual trigger: install, then
:data:`RUN` the pipeline with the storage backend's settings taken from the platform's secrets
(settings marked ``secret``) and variables (the others); see :func:`pipeline_settings`. What a
user must define there is what :func:`polster_core.specs.needed_settings` says, as everywhere.

Keeping this in one place keeps the three platforms' pipelines the same, and lets the tests run
exactly these commands in a generated project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import PolsterError
from .specs import Setting, describe_needed, needed_settings

PYTHON_VERSION = "3.12"
SCHEDULE_CRON = "0 6 * * *"
DEFAULT_BRANCH = "main"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Step:
    """One named shell command of a pipeline."""

    name: str
    command: str


# Creates .venv in the checkout and installs the project with its dev tools into it.
INSTALL = (
    Step("Create the virtual environment", "uv venv"),
    Step("Install the project", 'uv pip install -e ".[dev]"'),
)
# Run with .venv/bin first on PATH, from the project's root.
CHECKS = (
    Step("ruff check", "ruff check"),
    Step("ruff format --check", "ruff format --check"),
    Step("polster check", "polster check"),
    Step("Dagster definitions load", "dagster definitions validate -w workspace.yaml"),
    Step("pytest", "pytest"),
)
RUN = Step("Run the pipeline", "python run_polster.py")


@dataclass(frozen=True)
class PipelineSettings:
    """The environment of the scheduled run: ``STORAGE_BACKEND`` and where each setting comes from.

    ``storage`` is written into the CI file as the value of ``STORAGE_BACKEND``; ``secrets``
    come from the platform's secret store, ``variables`` from its plain variables. A variable
    left undefined on the platform arrives empty, which the project reads as unset, so the
    setting's default applies.
    """

    storage: str
    variables: tuple[Setting, ...]
    secrets: tuple[Setting, ...]
    # Every setting in the order the plugins declared them (so groups read the same everywhere).
    declared: tuple[Setting, ...] = ()

    @property
    def needed(self) -> list[tuple[Setting, ...]]:
        """What a user must define: each required setting alone, each ``one_of`` group together
        (one of its settings is enough); see :func:`polster_core.specs.needed_settings`."""
        return needed_settings(self.declared or (*self.variables, *self.secrets))

    @property
    def to_set(self) -> tuple[Setting, ...]:
        """The settings of :attr:`needed`, variables first; every other one is optional."""
        names = {s.name for group in self.needed for s in group}
        plain = tuple(s for s in self.variables if s.name in names)
        return (*plain, *(s for s in self.secrets if s.name in names))

    def group_of(self, setting: Setting) -> tuple[Setting, ...]:
        """The ``one_of`` group ``setting`` belongs to (itself alone when required), or ``()``."""
        return next((g for g in self.needed if setting in g), ())


def pipeline_settings(context) -> PipelineSettings:
    """Split the project's settings (``context.settings``) into platform variables and secrets."""
    others = [s for s in context.settings if s.name != "STORAGE_BACKEND"]
    for setting in others:
        if not ENV_NAME.match(setting.name):
            raise PolsterError(
                f"setting '{setting.name}' is not an environment variable name "
                "(letters, digits and _): the plugin that offers it must rename it"
            )
    return PipelineSettings(
        storage=context.storage,
        variables=tuple(s for s in others if not s.secret),
        secrets=tuple(s for s in others if s.secret),
        declared=tuple(others),
    )


def keeps_data_locally(context) -> bool:
    """Whether the run writes its tables to the runner's disk (then the CI keeps them a week)."""
    return context.storage == "local"


def header(context, platform: str, where: str) -> str:
    """The comment at the top of a CI file: what it does and where its settings come from."""
    settings = pipeline_settings(context)
    lines = [
        f"CI/CD of {context.project_name}, written by polster {context.polster_version} "
        f"for {platform}.",
        "On push and pull/merge request: ruff check, ruff format --check, polster check, "
        "the Dagster definitions load check and pytest.",
        "Daily at 06:00 UTC and on manual trigger: python run_polster.py with the "
        f"'{settings.storage}' storage backend.",
    ]
    needed = {s.name for s in settings.to_set}
    to_set = [g[0].name for g in settings.needed if len(g) == 1 and not g[0].secret]
    groups = [describe_needed(g) for g in settings.needed if len(g) > 1]
    optional = [s.name for s in settings.variables if s.name not in needed]
    if settings.secrets:
        lines.append(f"Secrets ({where}): {', '.join(s.name for s in settings.secrets)}.")
    if to_set:
        lines.append(f"Variables to set: {', '.join(to_set)}.")
    for group in groups:
        lines.append(f"Set {group}.")
    if optional:
        lines.append(f"Optional variables (defaults apply when unset): {', '.join(optional)}.")
    lines.append("README.md, section 'Continuous Integration', says how to set them.")
    return "\n".join(comment(line) for line in lines)


def comment(text: str, indent: str = "") -> str:
    """``text`` as YAML comment lines of at most 99 characters, indented by ``indent``."""
    import textwrap

    return "\n".join(
        textwrap.wrap(
            text, width=99, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}#   "
        )
    )


def settings_table(context, secret_label: str, variable_label: str) -> str:
    """Markdown table of the run's settings: name, where to set it, description, default."""
    settings = pipeline_settings(context)
    needed = {s.name for s in settings.to_set}
    rows = ["| Setting | Set it as | Description | Default |", "|---|---|---|---|"]
    rows.append(
        f"| `STORAGE_BACKEND` | in the CI file | Storage backend of the scheduled run "
        f"| {settings.storage} |"
    )

    def where(s: Setting, label: str) -> str:
        group = settings.group_of(s)
        if len(group) > 1:
            return f"{label} ({describe_needed(group)})"
        return label if s.name in needed else f"{label} (optional)"

    for s in sorted(settings.secrets, key=lambda s: s.name not in needed):
        rows.append(f"| `{s.name}` | {where(s, secret_label)} | {s.description} | - |")
    for s in sorted(settings.variables, key=lambda s: s.name not in needed):
        rows.append(
            f"| `{s.name}` | {where(s, variable_label)} | {s.description} | {s.default or '-'} |"
        )
    return "\n".join(rows)
