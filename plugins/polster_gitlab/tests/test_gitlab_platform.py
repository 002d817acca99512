"""polster-gitlab: the .gitlab-ci.yml it writes is valid, uses rules: and keeps secrets out."""

from __future__ import annotations

import pytest
import yaml

from polster_core import ci, testing
from polster_core.plugins import Plugins

CI_FILE = ".gitlab-ci.yml"
CONTEXTS = {
    "local": lambda: testing.ci_context(),
    "vault": lambda: testing.ci_context("shop-data", "vault", testing.VAULT_SETTINGS),
}


@pytest.fixture(scope="module")
def gitlab():
    return Plugins(autoload=True).ci_platform("gitlab")


def pipeline(gitlab, storage: str) -> tuple[str, dict]:
    text = gitlab.render(CONTEXTS[storage]())[CI_FILE]
    return text, yaml.safe_load(text)


def keys(node) -> set[str]:
    """Every mapping key anywhere in a parsed YAML document."""
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in keys(v)}
    return set()


def test_found_through_its_entry_point(gitlab):
    assert gitlab.plugin == "polster-gitlab"
    assert gitlab.cli == "glab"


@pytest.mark.parametrize("storage", sorted(CONTEXTS))
def test_file_passes_the_gitlab_ci_schema(gitlab, storage, tmp_path):
    files = gitlab.render(CONTEXTS[storage]())
    assert list(files) == [CI_FILE]
    path = tmp_path / CI_FILE
    path.write_text(files[CI_FILE], encoding="utf-8")
    assert testing.schema_errors(path, "gitlab") == []


def test_rules_not_only_and_one_pipeline_per_change(gitlab):
    _, data = pipeline(gitlab, "vault")
    assert not keys(data) & {"only", "except"}
    workflow_rules = [rule["if"] for rule in data["workflow"]["rules"]]
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in workflow_rules
    assert any("$CI_OPEN_MERGE_REQUESTS" in rule for rule in workflow_rules)


def test_check_job_runs_the_shared_commands_after_installing_from_the_lock(gitlab):
    _, data = pipeline(gitlab, "local")
    template = data[".uv"]
    assert template["before_script"] == [
        "uv sync --locked",
        'export PATH="$CI_PROJECT_DIR/.venv/bin:$PATH"',
    ]
    assert template["cache"]["key"] == {"files": ["uv.lock"]}
    check = data["check"]
    assert check["extends"] == ".uv"
    assert check["script"] == [step.command for step in ci.CHECKS]
    assert check["rules"][0] == {"if": '$POLSTER_RUN == "true"', "when": "never"}


def image(data: dict, job: str, python: str) -> str:
    """The image ``job`` runs in when ``PYTHON_VERSION`` is ``python``, as GitLab expands it."""
    return (
        data.get(job, {}).get("image", data["default"]["image"]).replace("$PYTHON_VERSION", python)
    )


@pytest.mark.parametrize(
    "versions, matrix",
    [
        (None, ["3.10", "3.14"]),  # the project's declared versions, oldest and newest
        (("3.11", "3.12", "3.13"), ["3.11", "3.13"]),
        (("3.12",), ["3.12"]),
    ],
)
def test_checks_run_in_the_uv_images_of_the_oldest_and_newest_python(gitlab, versions, matrix):
    context = testing.ci_context()
    if versions:
        context.python_versions = versions
    data = yaml.safe_load(gitlab.render(context)[CI_FILE])
    assert data["check"]["parallel"] == {"matrix": [{"PYTHON_VERSION": matrix}]}
    assert [image(data, "check", python) for python in matrix] == [
        f"ghcr.io/astral-sh/uv:python{python}-bookworm-slim" for python in matrix
    ]
    # The pipeline run has no matrix: the newest Python, the global PYTHON_VERSION.
    assert "parallel" not in data["run-pipeline"]
    assert data["variables"]["PYTHON_VERSION"] == matrix[-1]
    assert image(data, "run-pipeline", data["variables"]["PYTHON_VERSION"]) == (
        f"ghcr.io/astral-sh/uv:python{matrix[-1]}-bookworm-slim"
    )


@pytest.mark.parametrize("storage", sorted(CONTEXTS))
def test_no_timer_the_pipeline_runs_only_when_started_by_hand(gitlab, storage):
    text, data = pipeline(gitlab, storage)
    assert "cron" not in text and "schedule" not in yaml.safe_dump(data)  # comments aside
    # One workflow rule marks pipelines started by hand; the two jobs read that mark.
    (manual,) = [rule for rule in data["workflow"]["rules"] if "variables" in rule]
    assert manual == {
        "if": '$CI_PIPELINE_SOURCE == "web" || $CI_PIPELINE_SOURCE == "api" '
        '|| $CI_PIPELINE_SOURCE == "trigger"',
        "variables": {"POLSTER_RUN": "true"},
    }
    assert data["run-pipeline"]["rules"] == [{"if": '$POLSTER_RUN == "true"'}]
    assert "# On pipelines started by hand (Build > Pipelines > Run pipeline" in text
    assert "Daily" not in text and "06:00" not in text


def test_manual_runs_take_settings_from_ci_cd_variables(gitlab):
    text, data = pipeline(gitlab, "vault")
    run = data["run-pipeline"]
    assert run["script"] == ["python run_polster.py"]
    assert run["resource_group"]
    # GitLab exports project variables itself: only STORAGE_BACKEND is in the file.
    assert run["variables"] == {"STORAGE_BACKEND": "vault"}
    assert "tok-3f9a" not in text
    assert "tok-3f9a" not in gitlab.readme_section(CONTEXTS["vault"]())
    assert "masked CI/CD variables of the project: VAULT_TOKEN" in text


def test_names_come_from_the_project_and_local_tables_are_kept(gitlab):
    local_text, local = pipeline(gitlab, "local")
    vault_text, vault = pipeline(gitlab, "vault")
    assert "ADLS" not in local_text + vault_text and "VAULT" not in local_text
    assert local["run-pipeline"]["artifacts"]["paths"] == ["data/"]
    assert "artifacts" not in vault["run-pipeline"]


def test_readme_section_gives_variable_commands_and_says_the_schedule_is_dagsters(gitlab):
    section = gitlab.readme_section(CONTEXTS["vault"]())
    assert "glab schedule create" not in section and "06:00 UTC" not in section
    assert "on Python 3.10 and 3.14" in section and "`uv sync --locked`" in section
    assert "schedule is Dagster's `polster_pipeline_daily`" in section
    assert "create a pipeline schedule for `main` (Build > Pipeline schedules), add" in section
    assert '`|| $CI_PIPELINE_SOURCE == "schedule"` to the workflow rule that sets' in section
    assert "`default_status=dg.DefaultScheduleStatus.STOPPED`" in section
    assert 'printf %s "$VAULT_TOKEN" | glab variable set VAULT_TOKEN --masked --protected' in (
        section
    )
    assert 'glab variable set VAULT_URL --value "your value"' in section


def test_create_remote_command(gitlab):
    assert gitlab.create_remote(testing.ci_context("shop-data")) == [
        "glab", "repo", "create", "shop-data", "--private", "--defaultBranch=main",
    ]  # fmt: skip
    assert gitlab.login_check == ("glab", "auth", "status")
