"""Polster CI platform ``azure-devops`` (alias ``azdo``): ``azure-pipelines.yml`` and ``az repos``.

The ``check`` stage runs for pushes to main and pull requests (``trigger``, ``pr``), on the
oldest and the newest Python the project declares (a job matrix); the ``run`` stage runs the
pipeline only for runs queued by hand (the schedule is Dagster's). Both install from the
project's ``uv.lock``. Secret settings live in a variable group, which only the ``run`` stage
links, and are mapped into the step's environment explicitly (Azure exports only non-secret
variables by itself). Which settings those are comes from the project (``context.settings``),
never from this plugin.
"""

from __future__ import annotations

from polster_core import ci
from polster_core.hookspecs import hookimpl
from polster_core.specs import CIPlatform

PIPELINE_FILE = "azure-pipelines.yml"
# Runs queued by hand run the pipeline; every other run (push, pull request) runs the checks.
IS_RUN = "in(variables['Build.Reason'], 'Manual')"
# Azure reads every scalar as a string, and its published schema says so: numbers and booleans
# are written quoted ("true", "20") so that schema validators accept the file.


def variable_group(context) -> str:
    """The variable group holding the project's settings for the pipeline run."""
    return f"{context.project_name}-settings"


def _install_steps() -> list[str]:
    return [
        "          - task: UsePythonVersion@0",
        "            displayName: Use Python $(PYTHON_VERSION)",
        "            inputs:",
        "              versionSpec: $(PYTHON_VERSION)",
        "          - task: Cache@2",
        "            displayName: Cache uv downloads",
        "            inputs:",
        f'              key: \'uv | "$(Agent.OS)" | "$(PYTHON_VERSION)" | {ci.LOCK_FILE}\'',
        "              path: $(UV_CACHE_DIR)",
        "          - script: |",
        "              python -m pip install --quiet uv",
        f"              {ci.INSTALL.command}",
        '              echo "##vso[task.prependpath]$(System.DefaultWorkingDirectory)/.venv/bin"',
        f"            displayName: {ci.INSTALL.name}",
        "            env:",
        "              UV_PYTHON: $(PYTHON_VERSION)",
    ]


def render_pipeline(context) -> str:
    settings = ci.pipeline_settings(context)
    branch = ci.DEFAULT_BRANCH
    out = [
        ci.header(context, PLATFORM, f"variable group '{variable_group(context)}'"),
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
        "pool:",
        "  vmImage: ubuntu-latest",
        "",
        "variables:",
        "  # The newest Python the project declares; the check job runs on the oldest too.",
        "  - name: PYTHON_VERSION",
        f'    value: "{ci.run_python(context)}"',
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
        "        strategy:",
        "          # The oldest and the newest Python the project declares (pyproject.toml).",
        "          matrix:",
    ]
    for version in ci.check_pythons(context):
        out += [
            f"            python_{version.replace('.', '_')}:",
            f'              PYTHON_VERSION: "{version}"',
        ]
    out += [
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
            f"The pipeline run reads its settings from the variable group `{group}` (Pipelines "
            "> Library), which only the run stage links; secrets never appear in the file. "
            "Optional settings can also be set as pipeline variables:\n\n"
            f"{table}\n\n"
            "Create the group with the Azure CLI (`--prompt-value` asks for each secret, so it "
            "stays out of your shell history):\n\n"
            "```bash\n" + "\n".join(commands) + "\n```"
        )
    else:
        setup = (
            "The pipeline run needs no secrets; set any optional setting as a pipeline "
            f"variable:\n\n{table}"
        )
    local = (
        "\n\nWith local storage the run's tables are kept as the run's `data` artifact."
        if ci.keeps_data_locally(context)
        else ""
    )
    pythons = " and ".join(ci.check_pythons(context))
    how = (
        f"add a `schedules:` cron trigger for `{ci.DEFAULT_BRANCH}` with `always: true`, add "
        "`'Schedule'` to `in(variables['Build.Reason'], 'Manual')` in both stages' conditions"
    )
    return (
        "### Continuous Integration (Azure Pipelines)\n\n"
        f"`{PIPELINE_FILE}` checks every push to `{ci.DEFAULT_BRANCH}` and every pull request "
        f"on Python {pythons} (the oldest and newest the project declares): it installs exactly "
        f"the versions of the committed `{ci.LOCK_FILE}` (`{ci.INSTALL.command}`), then runs "
        "`ruff check`, `ruff format --check`, `polster check`, a Dagster definitions load "
        "check and `pytest`. When you queue a run by hand (Pipelines > the pipeline > Run "
        "pipeline), it runs the pipeline with `python run_polster.py` on Python "
        f"{ci.run_python(context)} instead. Create the pipeline from this file once (Pipelines "
        f"> New pipeline, or `az pipelines create --name {context.project_name} "
        f"--yml-path {PIPELINE_FILE}`).\n\n{ci.schedule_note(how)}\n\n" + setup + local
    )


PLATFORM = CIPlatform(
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
    run_trigger="on runs queued by hand (Pipelines > the pipeline > Run pipeline)",
)


@hookimpl
def polster_ci_platforms(register):
    register(PLATFORM)
