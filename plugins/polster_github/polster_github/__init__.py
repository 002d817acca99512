"""Polster CI platform ``github``: a GitHub Actions workflow, and ``gh`` to create the remote.

``.github/workflows/polster.yml`` has two jobs. ``check`` runs on push to main and on pull
requests, on the oldest and the newest Python the project declares (a matrix); ``run`` runs the
pipeline on manual dispatch only (the schedule is Dagster's), with the storage backend's settings
from repository secrets and variables. Which settings those are comes from the project
(``context.settings``), never from this plugin. Both install from the project's ``uv.lock``.
"""

from __future__ import annotations

from polster_core import ci
from polster_core.hookspecs import hookimpl
from polster_core.specs import CIPlatform

WORKFLOW = ".github/workflows/polster.yml"

# Current releases; setup-uv publishes no floating major tag since v8, so it is pinned exactly.
CHECKOUT = "actions/checkout@v7"
SETUP_UV = "astral-sh/setup-uv@v8.3.2"
UPLOAD_ARTIFACT = "actions/upload-artifact@v7"


def _setup_steps(python: str) -> list[str]:
    return [
        f"      - uses: {CHECKOUT}",
        "        with:",
        "          persist-credentials: false",
        "      - name: Set up uv and Python",
        f"        uses: {SETUP_UV}",
        "        with:",
        f"          python-version: {python}",
        "          activate-environment: true",
        "          enable-cache: true",
        f"          cache-dependency-glob: {ci.LOCK_FILE}",
        f"      - name: {ci.INSTALL.name}",
        f"        run: {ci.INSTALL.command}",
    ]


def render_workflow(context) -> str:
    settings = ci.pipeline_settings(context)
    pythons = ", ".join(f'"{version}"' for version in ci.check_pythons(context))
    out = [
        ci.header(context, PLATFORM, "repository secrets"),
        "name: polster",
        "",
        "on:",
        "  push:",
        f"    branches: [{ci.DEFAULT_BRANCH}]",
        "  pull_request:",
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "",
        "concurrency:",
        "  group: ${{ github.workflow }}-${{ github.event_name }}-${{ github.ref }}",
        "  cancel-in-progress: ${{ github.event_name == 'pull_request' }}",
        "",
        "jobs:",
        "  check:",
        "    name: Lint, test and check (Python ${{ matrix.python-version }})",
        "    if: github.event_name == 'push' || github.event_name == 'pull_request'",
        "    runs-on: ubuntu-latest",
        "    timeout-minutes: 20",
        "    strategy:",
        "      fail-fast: false",
        "      matrix:",
        "        # The oldest and the newest Python the project declares (pyproject.toml).",
        f"        python-version: [{pythons}]",
        "    steps:",
        *_setup_steps("${{ matrix.python-version }}"),
    ]
    for step in ci.CHECKS:
        out += [f"      - name: {step.name}", f"        run: {step.command}"]
    out += [
        "",
        "  run:",
        f"    name: {ci.RUN.name}",
        "    if: github.event_name == 'workflow_dispatch'",
        "    runs-on: ubuntu-latest",
        "    timeout-minutes: 120",
        "    concurrency:",
        "      group: ${{ github.workflow }}-run",
        "      cancel-in-progress: false",
        "    steps:",
        *_setup_steps(f'"{ci.run_python(context)}"'),
        f"      - name: {ci.RUN.name}",
        "        env:",
        f'          STORAGE_BACKEND: "{settings.storage}"',
    ]
    out += [f"          {s.name}: ${{{{ vars.{s.name} }}}}" for s in settings.variables]
    out += [f"          {s.name}: ${{{{ secrets.{s.name} }}}}" for s in settings.secrets]
    out.append(f"        run: {ci.RUN.command}")
    if ci.keeps_data_locally(context):
        out += [
            "      - name: Keep the tables for a week",
            f"        uses: {UPLOAD_ARTIFACT}",
            "        with:",
            "          name: data",
            "          path: data/",
            "          retention-days: 7",
        ]
    return "\n".join(out) + "\n"


def render(context) -> dict[str, str]:
    return {WORKFLOW: render_workflow(context)}


def create_remote(context) -> list[str]:
    return [
        "gh", "repo", "create", context.project_name,
        "--private", "--source=.", "--remote=origin",
    ]  # fmt: skip


def readme_section(context) -> str:
    settings = ci.pipeline_settings(context)
    commands = [
        f"gh secret set {s.name}" if s.secret else f'gh variable set {s.name} --body "your value"'
        for s in settings.to_set
    ]
    table = ci.settings_table(context, "repository secret", "repository variable")
    pythons = " and ".join(ci.check_pythons(context))
    how = (
        'add `schedule: [{cron: "0 6 * * *"}]` under `on:`, add '
        "`|| github.event_name == 'schedule'` to the `run` job's `if:`"
    )
    return (
        "### Continuous Integration (GitHub Actions)\n\n"
        f"`{WORKFLOW}` checks every push to `{ci.DEFAULT_BRANCH}` and every pull request on "
        f"Python {pythons} (the oldest and newest the project declares): it installs exactly "
        f"the versions of the committed `{ci.LOCK_FILE}` (`{ci.INSTALL.command}`), then runs "
        "`ruff check`, `ruff format --check`, `polster check`, a Dagster definitions load "
        "check and `pytest`. When you start it by hand (Actions > polster > Run workflow), it "
        f"runs the pipeline with `python run_polster.py` on Python {ci.run_python(context)}."
        "\n\n"
        f"{ci.schedule_note(how)}\n\n"
        "The pipeline run reads its settings from the repository's secrets and variables "
        "(Settings > Secrets and variables > Actions); secrets never appear in the workflow "
        "file:\n\n"
        f"{table}\n\n"
        + (
            "Set them with the GitHub CLI (`gh secret set` asks for the value, so it stays out "
            "of your shell history):\n\n```bash\n" + "\n".join(commands) + "\n```"
            if commands
            else "Nothing needs setting for this storage backend; set an optional variable "
            'with `gh variable set NAME --body "value"`.'
        )
        + (
            "\n\nWith local storage the run's tables are kept for a week as the workflow "
            "run's `data` artifact."
            if ci.keeps_data_locally(context)
            else ""
        )
    )


PLATFORM = CIPlatform(
    name="github",
    description="GitHub Actions (.github/workflows/polster.yml)",
    render=render,
    create_remote=create_remote,
    cli="gh",
    login_check=("gh", "auth", "status"),
    login_hint=("gh auth login",),
    readme_section=readme_section,
    run_trigger="on manual dispatch (Actions > polster > Run workflow)",
)


@hookimpl
def polster_ci_platforms(register):
    register(PLATFORM)
