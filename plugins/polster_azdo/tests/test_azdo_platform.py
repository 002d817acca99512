"""polster-azdo: azure-pipelines.yml is valid, and secrets reach the run from a variable group."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from polster_core import ci, testing
from polster_core.plugins import Plugins

PIPELINE = "azure-pipelines.yml"
CONTEXTS = {
    "local": lambda: testing.ci_context(),
    "vault": lambda: testing.ci_context("shop-data", "vault", testing.VAULT_SETTINGS),
}


@pytest.fixture(scope="module")
def plugins():
    return Plugins(autoload=True)


@pytest.fixture(scope="module")
def azdo(plugins):
    return plugins.ci_platform("azure-devops")


def pipeline(azdo, storage: str) -> tuple[str, dict]:
    text = azdo.render(CONTEXTS[storage]())[PIPELINE]
    return text, yaml.safe_load(text)


def stage(data: dict, name: str) -> dict:
    return next(s for s in data["stages"] if s["stage"] == name)


def test_found_by_name_and_by_alias(plugins, azdo):
    assert azdo.plugin == "polster-azdo"
    assert plugins.ci_platform("azdo") is azdo
    assert azdo.cli == "az"


@pytest.mark.parametrize("storage", sorted(CONTEXTS))
def test_file_passes_the_azure_pipelines_schema(azdo, storage, tmp_path):
    files = azdo.render(CONTEXTS[storage]())
    assert list(files) == [PIPELINE]
    path = tmp_path / PIPELINE
    path.write_text(files[PIPELINE], encoding="utf-8")
    assert testing.schema_errors(path, "azure-devops") == []


@pytest.mark.parametrize("storage", sorted(CONTEXTS))
def test_trigger_and_pr_no_timer_the_run_only_when_queued_by_hand(azdo, storage):
    text, data = pipeline(azdo, storage)
    assert data["trigger"] == {"branches": {"include": ["main"]}}
    assert data["pr"] == {"branches": {"include": ["main"]}}
    assert "schedules" not in data and "cron" not in text
    assert stage(data, "run")["condition"] == "in(variables['Build.Reason'], 'Manual')"
    assert stage(data, "check")["condition"] == "not(in(variables['Build.Reason'], 'Manual'))"
    assert "# On runs queued by hand (Pipelines > the pipeline > Run pipeline)" in text
    assert "Daily" not in text and "06:00" not in text


def test_check_stage_runs_the_shared_commands_after_installing_from_the_lock(azdo):
    _, data = pipeline(azdo, "local")
    check = stage(data, "check")
    steps = check["jobs"][0]["steps"]
    assert [s["task"] for s in steps if "task" in s] == ["UsePythonVersion@0", "Cache@2"]
    cache = next(s for s in steps if s.get("task") == "Cache@2")["inputs"]
    assert cache["key"] == 'uv | "$(Agent.OS)" | "$(PYTHON_VERSION)" | uv.lock'
    scripts = [s["script"] for s in steps if "script" in s]
    assert scripts[0].splitlines()[:2] == ["python -m pip install --quiet uv", "uv sync --locked"]
    assert scripts[1:] == [step.command for step in ci.CHECKS]
    assert "group" not in yaml.safe_dump(check)  # secrets only in the run stage


def python_of(job: dict, pipeline_variables: list[dict]) -> list[str]:
    """The PYTHON_VERSION each leg of ``job`` runs with (a matrix leg's value wins)."""
    default = next(v["value"] for v in pipeline_variables if v.get("name") == "PYTHON_VERSION")
    legs = job.get("strategy", {}).get("matrix", {"-": {}})
    return [leg.get("PYTHON_VERSION", default) for leg in legs.values()]


@pytest.mark.parametrize(
    "versions, matrix",
    [
        (None, ["3.10", "3.14"]),  # the project's declared versions, oldest and newest
        (("3.11", "3.12", "3.13"), ["3.11", "3.13"]),
        (("3.12",), ["3.12"]),
    ],
)
def test_checks_run_on_the_oldest_and_newest_python_the_run_on_the_newest(azdo, versions, matrix):
    context = testing.ci_context()
    if versions:
        context.python_versions = versions
    data = yaml.safe_load(azdo.render(context)[PIPELINE])
    check, run = stage(data, "check")["jobs"][0], stage(data, "run")["jobs"][0]
    assert python_of(check, data["variables"]) == matrix
    assert python_of(run, data["variables"]) == [matrix[-1]]
    for job in (check, run):
        python = next(s for s in job["steps"] if s.get("task") == "UsePythonVersion@0")
        assert python["inputs"]["versionSpec"] == "$(PYTHON_VERSION)"
        install = next(s for s in job["steps"] if "uv sync --locked" in s.get("script", ""))
        assert install["env"] == {"UV_PYTHON": "$(PYTHON_VERSION)"}


def test_run_stage_links_the_variable_group_and_maps_secrets(azdo):
    text, data = pipeline(azdo, "vault")
    run = stage(data, "run")
    assert run["dependsOn"] == []
    assert run["variables"] == [
        {"group": "shop-data-settings"},
        {"name": "STORAGE_BACKEND", "value": "vault"},
    ]
    step = run["jobs"][0]["steps"][-1]
    assert step["env"] == {"VAULT_TOKEN": "$(VAULT_TOKEN)"}
    assert step["bash"].rstrip().endswith("python run_polster.py")
    assert "tok-3f9a" not in text
    assert "tok-3f9a" not in azdo.readme_section(CONTEXTS["vault"]())


def test_local_storage_needs_no_variable_group_and_keeps_the_tables(azdo):
    text, data = pipeline(azdo, "local")
    run = stage(data, "run")
    assert run["variables"] == [{"name": "STORAGE_BACKEND", "value": "local"}]
    assert run["jobs"][0]["steps"][-1] == {
        "publish": "data", "artifact": "data", "displayName": "Keep the tables",
    }  # fmt: skip
    assert "VAULT" not in text and "ADLS" not in text


def test_a_secret_missing_from_the_group_is_unset_not_passed_on(azdo, tmp_path):
    """Run the step's real bash with Azure's behaviour: an undefined secret stays `$(NAME)`."""
    _, data = pipeline(azdo, "vault")
    script = stage(data, "run")["jobs"][0]["steps"][-1]["bash"]
    script = script.replace(
        "python run_polster.py", 'echo "VAULT_TOKEN=${VAULT_TOKEN-unset} URL=$VAULT_URL"'
    )
    env = {**os.environ, "VAULT_TOKEN": "$(VAULT_TOKEN)", "VAULT_URL": "http://vault"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "VAULT_TOKEN=unset URL=http://vault"
    env["VAULT_TOKEN"] = "real-token"
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "VAULT_TOKEN=real-token URL=http://vault"


def test_readme_section_creates_the_group_with_prompted_secrets(azdo):
    section = azdo.readme_section(CONTEXTS["vault"]())
    assert "az pipelines variable-group create --name shop-data-settings" in section
    assert "--name VAULT_TOKEN --secret true --prompt-value true" in section
    assert "az pipelines create --name shop-data --yml-path azure-pipelines.yml" in section


def test_readme_section_says_the_schedule_is_dagsters_and_how_to_move_it(azdo):
    section = azdo.readme_section(CONTEXTS["local"]())
    assert "06:00 UTC" not in section and "Every day" not in section
    assert "on Python 3.10 and 3.14" in section and "`uv sync --locked`" in section
    assert "schedule is Dagster's `polster_pipeline_daily`" in section
    assert "add a `schedules:` cron trigger for `main` with `always: true`" in section
    assert "`default_status=dg.DefaultScheduleStatus.STOPPED`" in section


def test_create_remote_prints_the_url(azdo):
    assert azdo.create_remote(testing.ci_context("shop-data")) == [
        "az", "repos", "create", "--name", "shop-data", "--query", "remoteUrl", "--output", "tsv",
    ]  # fmt: skip
    assert azdo.remote_url_on_stdout is True
