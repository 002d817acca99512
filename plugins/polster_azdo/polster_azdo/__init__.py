"""Polster CI platform ``azure-devops`` (alias ``azdo``): ``azure-pipelines.yml`` and ``az repos``.

The ``check`` stage runs for pushes to main and pull requests (``trigger``, ``pr``); the ``run``
stage runs the pipeline for the daily schedule (``schedules``) and for runs queued by hand. Secret
settings live in a variable group, which only the ``run`` stage links, and are mapped into the
step's environment explicitly (Azure exports only non-secret variables by itself). Which settings
those are comes from the project (``context.settings``), never from this plugin.
"""

from __future__ import annotations

from polster_core import ci
from polster_core.hookspecs import hookimpl
from polster_core.specs import CIPlatform

PIPELINE_FILE = "azure-pipelines.yml"
IS_RUN = "in(variables['Build.Reason'], 'Schedule', 'Manual')"
# Azure reads every scalar as a string, and its published schema says so: numbers and booleans
# are written quoted ("true", "20") so that schema validators accept the file.


def variable_group(context) -> str:
    """The variable group holding the project's settings for the scheduled run."""
    return f"{context.project_name}-settings"


def _install_steps() -> list[str]:
    install = "\n".join(f"              {step.command}" for step in ci.INSTALL)
    return [
        "          - task: UsePythonVersion@0",
        "            displayName: Use Python $(PYTHON_VERSION)",
        "            inputs:",
        "              versionSpec: $(PYTHON_VERSION)",
        "          - task: Cache@2",
        "            displayName: Cache uv downloads",
        "            inputs:",
        '              key: \'uv | "$(Agent.OS)" | "$(PYTHON_VERSION)" | pyproject.toml\'',
        "              path: $(UV_CACHE_DIR)",
        "          - script: |",
        "              python -m pip install --quiet uv",
        install,
        '              echo "##vso[task.prependpath]$(System.DefaultWorkingDirectory)/.venv/bin"',
        "            displayName: Install with uv",
    ]


def render_pipeline(context) -> str:
    settings = ci.pipeline_settings(context)
    branch = ci.DEFAULT_BRANCH
    out = [
        ci.header(context, "Azure Pipelines", f"variable group '{variable_group(context)}'"),
        "trigger:",
        "  branches:",
        "    include:",
        f"      - {branch}",
        "",
        "pr:",
        "  branches:",
        "    include:",
        f"      - {branch}",
        "",
        "schedules:",
        f'  - cron: "{ci.SCHEDULE_CRON}"',
        "    displayName: Daily pipeline run (06:00 UTC)",
        "    branches:",
        "      include:",
        f"        - {branch}",
        '    always: "true"',
        "",
        "pool:",
        "  vmImage: ubuntu-latest",
        "",
        "variables:",
        "  - name: PYTHON_VERSION",
        f'    value: "{ci.PYTHON_VERSION}"',
        "  - name: UV_CACHE_DIR",
        "    value: $(Pipeline.Workspace)/.uv-cache",
        "",
        "stages:",
        "  - stage: check",
        "    displayName: Lint, test and check",
        f"    condition: not({IS_RUN})",
        "    jobs:",
        "      - job: check",
        '        timeoutInMinutes: "20"',
        "        steps:",
        *_install_steps(),
    ]
    for step in ci.CHECKS:
        out += [f"          - script: {step.command}", f"            displayName: {step.name}"]
    out += [
        "",
        "  - stage: run",
        f"    displayName: {ci.RUN.name}",
        "    dependsOn: []",
        f"    condition: {IS_RUN}",
        "    variables:",
    ]
    if settings.to_set:
        out += [f"      - group: {variable_group(context)}"]
    out += [
        "      - name: STORAGE_BACKEND",
        f'        value: "{settings.storage}"',
        "    jobs:",
        "      - job: run",
        '        timeoutInMinutes: "120"',
        "        steps:",
        *_install_steps(),
    ]
    if settings.secrets:
        names = " ".join(s.name for s in settings.secrets)
        out += [
            "          - bash: |",
            "              # Unset secrets the variable group lacks (they arrive unexpanded).",
            f"              for name in {names}; do",
            '                if [ "${!name}" = "\\$($name)" ]; then unset "$name"; fi',
            "              done",
            f"              {ci.RUN.command}",
            f"            displayName: {ci.RUN.name}",
            "            env:",
            *[f"              {s.name}: $({s.name})" for s in settings.secrets],
        ]
    else:
        out += [f"          - script: {ci.RUN.command}", f"            displayName: {ci.RUN.name}"]
    if ci.keeps_data_locally(context):
        out += [
            "          - publish: data",
            "            artifact: data",
            "            displayName: Keep the tables",
        ]
    return "\n".join(out) + "\n"


def render(context) -> dict[str, str]:
    return {PIPELINE_FILE: render_pipeline(context)}


def create_remote(context) -> list[str]:
    return [
        "az", "repos", "create", "--name", context.project_name,
        "--query", "remoteUrl", "--output", "tsv",
    ]  # fmt: skip


def readme_section(context) -> str:
    settings = ci.pipeline_settings(context)
    group = variable_group(context)
    table = ci.settings_table(context, f"secret variable in `{group}`", f"variable in `{group}`")
    if settings.to_set:
        plain = [s for s in settings.to_set if not s.secret]
        seed = f'{plain[0].name}="your value"' if plain else f"STORAGE_BACKEND={settings.storage}"
        commands = [
            f"az pipelines variable-group create --name {group} --authorize true "
            f"--variables {seed}",
            f"GROUP_ID=$(az pipelines variable-group list --group-name {group} "
            "--query '[0].id' --output tsv)",
        ]
        commands += [
            f"az pipelines variable-group variable create --group-id $GROUP_ID --name {s.name} "
            + ("--secret true --prompt-value true" if s.secret else '--value "your value"')
            for s in settings.to_set
            if s not in plain[:1]
        ]
        setup = (
            f"The scheduled run reads its settings from the variable group `{group}` (Pipelines "
            "> Library), which only the run stage links; secrets never appear in the file. "
            "Optional settings can also be set as pipeline variables:\n\n"
            f"{table}\n\n"
            "Create the group with the Azure CLI (`--prompt-value` asks for each secret, so it "
            "stays out of your shell history):\n\n"
            "```bash\n" + "\n".join(commands) + "\n```"
        )
    else:
        setup = (
            "The scheduled run needs no secrets; set any optional setting as a pipeline "
            f"variable:\n\n{table}"
        )
    local = (
        "\n\nWith local storage the run's tables are kept as the run's `data` artifact."
        if ci.keeps_data_locally(context)
        else ""
    )
    return (
        "### Continuous Integration (Azure Pipelines)\n\n"
        f"`{PIPELINE_FILE}` checks every push to `{ci.DEFAULT_BRANCH}` and every pull request: "
        "`ruff check`, `ruff format --check`, `polster check`, a Dagster definitions load "
        "check and `pytest`. Every day at 06:00 UTC, and when you queue a run by hand, it runs "
        "the pipeline with `python run_polster.py` instead. Create the pipeline from this file "
        f"once (Pipelines > New pipeline, or `az pipelines create --name {context.project_name} "
        f"--yml-path {PIPELINE_FILE}`).\n\n" + setup + local
    )


@hookimpl
def polster_ci_platforms(register):
    register(
        CIPlatform(
            name="azure-devops",
            description="Azure Pipelines (azure-pipelines.yml)",
            render=render,
            aliases=("azdo",),
            create_remote=create_remote,
            cli="az",
            login_check=("az", "account", "show", "--output", "none"),
            login_hint=(
                "az login",
                "az extension add --name azure-devops",
                "az devops configure --defaults "
                "organization=https://dev.azure.com/YOUR_ORG project=YOUR_PROJECT",
            ),
            remote_url_on_stdout=True,
            readme_section=readme_section,
        )
    )
