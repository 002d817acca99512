"""Polster CI platform ``gitlab``: a ``.gitlab-ci.yml``, and ``glab`` to create the remote.

The ``check`` job runs on pushes and merge requests (one pipeline per change, not two), in uv's
image of the oldest and of the newest Python the project declares (``parallel: matrix:``); the
``run-pipeline`` job runs only for pipelines started by hand (the schedule is Dagster's). One
workflow rule says which pipelines those are, by setting ``POLSTER_RUN``. Both jobs install
from the project's ``uv.lock``. Settings come from the project's CI/CD variables (secrets
masked), which GitLab exports to every job; which settings those are comes from the project
(``context.settings``).
"""

from __future__ import annotations

from polster_core import ci
from polster_core.hookspecs import hookimpl
from polster_core.specs import CIPlatform

CI_FILE = ".gitlab-ci.yml"
# uv's own image with Python: uv and Python ready, no install step for either.
IMAGE = "ghcr.io/astral-sh/uv:python$PYTHON_VERSION-bookworm-slim"
# Pipelines started by hand: Build > Pipelines > Run pipeline, the API, a trigger token.
RUN_SOURCES = " || ".join(
    f'$CI_PIPELINE_SOURCE == "{source}"' for source in ("web", "api", "trigger")
)
IS_RUN = '$POLSTER_RUN == "true"'


def render_ci(context) -> str:
    settings = ci.pipeline_settings(context)
    pythons = ", ".join(f'"{version}"' for version in ci.check_pythons(context))
    out = [
        ci.header(context, PLATFORM, "masked CI/CD variables"),
        "workflow:",
        "  rules:",
        '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"',
        "    # A branch with an open merge request is checked by the merge request pipeline.",
        '    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS && $CI_PIPELINE_SOURCE == "push"',
        "      when: never",
        '    - if: $CI_COMMIT_BRANCH && $CI_PIPELINE_SOURCE == "push"',
        "    # Pipelines started by hand run the pipeline (run-pipeline), not the checks.",
        f"    - if: {RUN_SOURCES}",
        "      variables:",
        '        POLSTER_RUN: "true"',
        "",
        "stages:",
        "  - check",
        "  - run",
        "",
        "default:",
        f"  image: {IMAGE}",
        "  interruptible: true",
        "",
        "variables:",
        "  # The newest Python the project declares; the check job runs on the oldest too.",
        f'  PYTHON_VERSION: "{ci.run_python(context)}"',
        "  UV_CACHE_DIR: .uv-cache",
        "  UV_LINK_MODE: copy",
        "",
        ".uv:",
        "  cache:",
        "    key:",
        "      files:",
        f"        - {ci.LOCK_FILE}",
        "    paths:",
        "      - .uv-cache",
        "  before_script:",
        f"    - {ci.INSTALL.command}",
        '    - export PATH="$CI_PROJECT_DIR/.venv/bin:$PATH"',
        "  after_script:",
        "    - uv cache prune --ci",
        "",
        "check:",
        "  extends: .uv",
        "  stage: check",
        "  parallel:",
        "    matrix:",
        "      # The oldest and the newest Python the project declares (pyproject.toml).",
        f"      - PYTHON_VERSION: [{pythons}]",
        "  rules:",
        f"    - if: {IS_RUN}",
        "      when: never",
        "    - when: on_success",
        "  script:",
        *[f"    - {step.command}" for step in ci.CHECKS],
        "",
        "run-pipeline:",
        "  extends: .uv",
        "  stage: run",
        "  rules:",
        f"    - if: {IS_RUN}",
        "  needs: []",
        "  interruptible: false",
        "  # One run at a time.",
        "  resource_group: polster-pipeline",
        "  timeout: 2h",
        "  variables:",
        f'    STORAGE_BACKEND: "{settings.storage}"',
    ]
    needed = [s.name for s in settings.to_set if not s.secret]
    optional = [s.name for s in settings.variables if s.name not in needed]
    for label, names in (
        ("From masked CI/CD variables of the project", [s.name for s in settings.secrets]),
        ("From CI/CD variables of the project", needed),
        ("Optional CI/CD variables (defaults apply when unset)", optional),
    ):
        if names:
            out.append(ci.comment(f"{label}: {', '.join(names)}.", "  "))
    out += ["  script:", f"    - {ci.RUN.command}"]
    if ci.keeps_data_locally(context):
        out += [
            "  artifacts:",
            "    name: data",
            "    paths:",
            "      - data/",
            "    expire_in: 1 week",
        ]
    return "\n".join(out) + "\n"


def render(context) -> dict[str, str]:
    return {CI_FILE: render_ci(context)}


def create_remote(context) -> list[str]:
    return [
        "glab", "repo", "create", context.project_name,
        "--private", f"--defaultBranch={ci.DEFAULT_BRANCH}",
    ]  # fmt: skip


def readme_section(context) -> str:
    settings = ci.pipeline_settings(context)
    commands = [
        f'printf %s "${s.name}" | glab variable set {s.name} --masked --protected'
        if s.secret
        else f'glab variable set {s.name} --value "your value"'
        for s in settings.to_set
    ]
    table = ci.settings_table(context, "masked CI/CD variable", "CI/CD variable")
    pythons = " and ".join(ci.check_pythons(context))
    how = (
        f"create a pipeline schedule for `{ci.DEFAULT_BRANCH}` (Build > Pipeline schedules), "
        'add `|| $CI_PIPELINE_SOURCE == "schedule"` to the workflow rule that sets `POLSTER_RUN`'
    )
    return (
        "### Continuous Integration (GitLab CI/CD)\n\n"
        f"`{CI_FILE}` checks every push and every merge request on Python {pythons} (the "
        "oldest and newest the project declares, in uv's images): it installs exactly the "
        f"versions of the committed `{ci.LOCK_FILE}` (`{ci.INSTALL.command}`), then runs "
        "`ruff check`, `ruff format --check`, `polster check`, a Dagster definitions load check "
        "and `pytest`. Pipelines you start by hand (Build > Pipelines > Run pipeline, or through "
        "the API or a trigger token) run the pipeline with `python run_polster.py` on Python "
        f"{ci.run_python(context)} instead.\n\n"
        f"{ci.schedule_note(how)}\n\n"
        "The run reads its settings from the project's CI/CD variables (Settings > CI/CD > "
        "Variables), which GitLab exports to the job; secrets never appear in the file. Mark "
        "secrets masked and protected (a run of the protected default branch gets them):\n\n"
        f"{table}\n\n"
        + (
            "With the GitLab CLI, the values in your shell (`set -a; . ./.env; set +a`); "
            "secrets go in on standard input, so they stay out of your shell history:\n\n"
            "```bash\n" + "\n".join(commands) + "\n```"
            if commands
            else "Nothing needs setting for this storage backend; set an optional variable "
            'with `glab variable set NAME --value "value"`.'
        )
        + (
            "\n\nWith local storage the run's tables are kept for a week as the job's `data` "
            "artifact."
            if ci.keeps_data_locally(context)
            else ""
        )
    )


PLATFORM = CIPlatform(
    name="gitlab",
    description="GitLab CI/CD (.gitlab-ci.yml)",
    render=render,
    create_remote=create_remote,
    cli="glab",
    login_check=("glab", "auth", "status"),
    login_hint=("glab auth login",),
    readme_section=readme_section,
    run_trigger="on pipelines started by hand (Build > Pipelines > Run pipeline, the API or a "
    "trigger token)",
)


@hookimpl
def polster_ci_platforms(register):
    register(PLATFORM)
