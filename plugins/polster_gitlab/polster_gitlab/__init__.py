"""Polster CI platform ``gitlab``: a ``.gitlab-ci.yml``, and ``glab`` to create the remote.

The ``check`` job runs on pushes and merge requests (one pipeline per change, not two); the
``run-pipeline`` job runs for scheduled pipelines and pipelines started by hand. GitLab keeps
schedules out of the file: the README section gives the ``glab schedule create`` command.
Settings come from the project's CI/CD variables (secrets masked), which GitLab exports to
every job; which settings those are comes from the project (``context.settings``).
"""

from __future__ import annotations

from polster_core import ci
from polster_core.hookspecs import hookimpl
from polster_core.specs import CIPlatform

CI_FILE = ".gitlab-ci.yml"
# uv's own image with Python: uv and Python ready, no install step for either.
IMAGE = f"ghcr.io/astral-sh/uv:python{ci.PYTHON_VERSION}-bookworm-slim"
RUN_SOURCES = '$CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web"'


def render_ci(context) -> str:
    settings = ci.pipeline_settings(context)
    out = [
        ci.header(context, "GitLab CI/CD", "masked CI/CD variables"),
        "workflow:",
        "  rules:",
        '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"',
        "    # A branch with an open merge request is checked by the merge request pipeline.",
        '    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS && $CI_PIPELINE_SOURCE == "push"',
        "      when: never",
        '    - if: $CI_COMMIT_BRANCH && $CI_PIPELINE_SOURCE == "push"',
        f"    - if: {RUN_SOURCES}",
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
        "  UV_CACHE_DIR: .uv-cache",
        "  UV_LINK_MODE: copy",
        "",
        ".uv:",
        "  cache:",
        "    key:",
        "      files:",
        "        - pyproject.toml",
        "    paths:",
        "      - .uv-cache",
        "  before_script:",
        *[f"    - {step.command}" for step in ci.INSTALL],
        '    - export PATH="$CI_PROJECT_DIR/.venv/bin:$PATH"',
        "  after_script:",
        "    - uv cache prune --ci",
        "",
        "check:",
        "  extends: .uv",
        "  stage: check",
        "  rules:",
        f"    - if: {RUN_SOURCES}",
        "      when: never",
        "    - when: on_success",
        "  script:",
        *[f"    - {step.command}" for step in ci.CHECKS],
        "",
        "run-pipeline:",
        "  extends: .uv",
        "  stage: run",
        "  rules:",
        f"    - if: {RUN_SOURCES}",
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


def schedule_command() -> str:
    return (
        f'glab schedule create --cron "{ci.SCHEDULE_CRON}" --ref {ci.DEFAULT_BRANCH} '
        '--description "polster: daily pipeline run"'
    )


def readme_section(context) -> str:
    settings = ci.pipeline_settings(context)
    commands = [
        f'printf %s "${s.name}" | glab variable set {s.name} --masked --protected'
        if s.secret
        else f'glab variable set {s.name} --value "your value"'
        for s in settings.to_set
    ]
    table = ci.settings_table(context, "masked CI/CD variable", "CI/CD variable")
    return (
        "### Continuous Integration (GitLab CI/CD)\n\n"
        f"`{CI_FILE}` checks every push and every merge request: `ruff check`, "
        "`ruff format --check`, `polster check`, a Dagster definitions load check and "
        "`pytest`. Scheduled pipelines, and pipelines you start by hand (Build > Pipelines > "
        "Run pipeline), run the pipeline with `python run_polster.py` instead.\n\n"
        "GitLab keeps schedules in the project, not in the file. Create the daily 06:00 UTC "
        "run once:\n\n"
        f"```bash\n{schedule_command()}\n```\n\n"
        "The run reads its settings from the project's CI/CD variables (Settings > CI/CD > "
        "Variables), which GitLab exports to the job; secrets never appear in the file. Mark "
        "secrets masked and protected (the schedule runs on the protected default branch):\n\n"
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


@hookimpl
def polster_ci_platforms(register):
    register(
        CIPlatform(
            name="gitlab",
            description="GitLab CI/CD (.gitlab-ci.yml)",
            render=render,
            create_remote=create_remote,
            cli="glab",
            login_check=("glab", "auth", "status"),
            login_hint=("glab auth login",),
            readme_section=readme_section,
        )
    )
