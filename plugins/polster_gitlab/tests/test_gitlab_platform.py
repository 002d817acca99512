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
    assert any('"schedule"' in rule and '"web"' in rule for rule in workflow_rules)


def test_check_job_runs_the_shared_commands_after_installing_with_uv(gitlab):
    _, data = pipeline(gitlab, "local")
    template = data[".uv"]
    assert template["before_script"][:2] == ["uv venv", 'uv pip install -e ".[dev]"']
    assert template["cache"]["key"]["files"] == ["pyproject.toml"]
    assert data["default"]["image"].startswith("ghcr.io/astral-sh/uv:python")
    check = data["check"]
    assert check["extends"] == ".uv"
    assert check["script"] == [step.command for step in ci.CHECKS]
    assert check["rules"][0]["when"] == "never"  # not on schedules or manual runs


def test_scheduled_and_manual_runs_take_settings_from_ci_cd_variables(gitlab):
    text, data = pipeline(gitlab, "vault")
    run = data["run-pipeline"]
    assert run["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web"'}
    ]
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


def test_readme_section_gives_schedule_and_variable_commands(gitlab):
    section = gitlab.readme_section(CONTEXTS["vault"]())
    assert 'glab schedule create --cron "0 6 * * *" --ref main' in section
    assert 'printf %s "$VAULT_TOKEN" | glab variable set VAULT_TOKEN --masked --protected' in (
        section
    )
    assert 'glab variable set VAULT_URL --value "your value"' in section


def test_create_remote_command(gitlab):
    assert gitlab.create_remote(testing.ci_context("shop-data")) == [
        "glab", "repo", "create", "shop-data", "--private", "--defaultBranch=main",
    ]  # fmt: skip
    assert gitlab.login_check == ("glab", "auth", "status")
