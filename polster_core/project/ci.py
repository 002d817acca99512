"""What every generated CI pipeline does; CI platform plugins render it in their own idiom.

On push and pull/merge request: :data:`INSTALL` the project from its ``uv.lock``, then run
:data:`CHECKS` in order, on the oldest and the newest Python the project declares
(:func:`check_pythons`). On a manual trigger only: install, then :data:`RUN` the pipeline on the
newest Python, with the storage backend's settings taken from the platform's secrets (settings
marked ``secret``) and variables (the others); see :func:`pipeline_settings`. The pipeline's
schedule is Dagster's (:data:`DAGSTER_SCHEDULE`), never a CI timer, so nothing runs twice. What a
user must define there is what :func:`polster_core.specs.needed_settings` says, as everywhere.

Keeping this in one place keeps the three platforms' pipelines the same, and lets the tests run
exactly these commands in a generated project.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..exceptions import PolsterError
from ..plugin_system.specs import CIPlatform, Setting, describe_needed, needed_settings

DEFAULT_BRANCH = "main"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The Dagster schedule of a generated project (src/orchestration/definitions.py).
DAGSTER_SCHEDULE = "polster_pipeline_daily"
# What starts the pipeline run when a platform does not say (CIPlatform.run_trigger).
RUN_TRIGGER = "on manual trigger"


@dataclass(frozen=True)
class Step:
    """One named shell command of a pipeline."""

    name: str
    command: str


# Creates .venv in the checkout with exactly the versions of the project's committed uv.lock
# (failing if the lock is out of date), the project itself and its dev dependency group included.
INSTALL = Step("Install the project from uv.lock", "uv sync --locked")
# The file the platforms' dependency caches are keyed on.
LOCK_FILE = "uv.lock"
# Run with .venv/bin first on PATH, from the project's root.
CHECKS = (
    Step("ruff check", "ruff check"),
    Step("ruff format --check", "ruff format --check"),
    Step("polster check", "polster check"),
    Step("Dagster definitions load", "dg check defs"),
    Step("pytest", "pytest"),
)
RUN = Step("Run the pipeline", "python run_polster.py")


def check_pythons(context) -> tuple[str, ...]:
    """The Pythons the checks run on: the oldest and the newest the project declares (one if
    they are the same), from ``context.python_versions``, oldest first."""
    oldest, newest = context.python_versions[0], context.python_versions[-1]
    return (oldest,) if oldest == newest else (oldest, newest)


def run_python(context) -> str:
    """The Python the pipeline runs on: the newest the project declares."""
    return context.python_versions[-1]


@dataclass(frozen=True)
class PipelineSettings:
    """The environment of the pipeline run: ``STORAGE_BACKEND`` and where each setting comes from.

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


def header(context, platform: CIPlatform | str, where: str) -> str:
    """The comment at the top of a CI file: what it does and where its settings come from.

    ``platform`` is the :class:`~polster_core.specs.CIPlatform` (its ``description`` names it,
    its ``run_trigger`` says what starts the pipeline run), or just the platform's name (the
    run is then said to start :data:`RUN_TRIGGER`).
    """
    if isinstance(platform, CIPlatform):
        name, trigger = platform.description, platform.run_trigger or RUN_TRIGGER
    else:
        name, trigger = platform, RUN_TRIGGER
    settings = pipeline_settings(context)
    pythons = " and ".join(check_pythons(context))
    lines = [
        f"CI/CD of {context.project_name}, written by polster {context.polster_version} "
        f"for {name}.",
        "On push and pull/merge request: uv sync --locked, then ruff check, ruff format --check, "
        f"polster check, the Dagster definitions load check and pytest, on Python {pythons}.",
        f"{trigger[:1].upper()}{trigger[1:]}: python run_polster.py with the "
        f"'{settings.storage}' storage backend, on Python {run_python(context)}.",
        "This file runs nothing on a timer: the pipeline's schedule is Dagster's "
        f"{DAGSTER_SCHEDULE}, which runs wherever a Dagster daemon runs.",
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


def schedule_note(how: str) -> str:
    """The README paragraph on scheduling; ``how`` lists, as clauses joined by commas, how to
    add the platform's own timer (e.g. "add a `schedule:` trigger under `on:`")."""
    return (
        "The CI runs the pipeline only when started by hand, never on a timer: the pipeline's "
        f"schedule is Dagster's `{DAGSTER_SCHEDULE}` (see Scheduling and Automation), which runs "
        "wherever a Dagster daemon runs, so nothing runs twice. To make the CI the scheduler "
        f"instead, {how}, and turn the Dagster schedule off "
        "(`default_status=dg.DefaultScheduleStatus.STOPPED` in `src/orchestration/definitions.py`)."
    )


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
        f"| `STORAGE_BACKEND` | in the CI file | Storage backend of the pipeline run "
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


def quote(value: str) -> str:
    """``value`` as a YAML double-quoted string, safe whatever it holds.

    Plain YAML scalars change type or meaning with their text (``3.10`` is the float 3.1,
    ``true``, ``no`` and ``on`` are booleans, ``*x`` an alias, ``a: b`` a mapping, ``#`` starts
    a comment): write every value that comes from a setting, a name or a version with it. A
    JSON string is a YAML double-quoted string, so this is ``json.dumps``.
    """

    return json.dumps(str(value))
