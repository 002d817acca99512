"""polster-github: the workflow it writes is valid, idiomatic and keeps secrets out."""

from __future__ import annotations

import pytest
import yaml

from polster_core import ci, testing
from polster_core.plugins import Plugins

WORKFLOW = ".github/workflows/polster.yml"


@pytest.fixture(scope="module")
def plugins():
    return Plugins(autoload=True)


@pytest.fixture(scope="module")
def github(plugins):
    return plugins.ci_platform("github")


CONTEXTS = {
    "local": lambda: testing.ci_context(),
    "vault": lambda: testing.ci_context("shop-data", "vault", testing.VAULT_SETTINGS),
}


def workflow(github, storage: str) -> tuple[str, dict]:
    text = github.render(CONTEXTS[storage]())[WORKFLOW]
    return text, yaml.safe_load(text)


def triggers(data: dict) -> dict:
    return data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as true


def test_found_through_its_entry_point(plugins, github):
    assert github.plugin == "polster-github"
    assert plugins.info["github"].source == "entry point"
    assert github.cli == "gh"


@pytest.mark.parametrize("storage", sorted(CONTEXTS))
def test_workflow_passes_the_schema_and_actionlint(github, storage, tmp_path):
    files = github.render(CONTEXTS[storage]())
    assert list(files) == [WORKFLOW]
    path = tmp_path / "polster.yml"
    path.write_text(files[WORKFLOW], encoding="utf-8")
    assert testing.schema_errors(path, "github") == []
    assert testing.actionlint(files) == []


def test_actionlint_really_lints(github):
    text, _ = workflow(github, "local")
    broken = text.replace(
        "github.event_name == 'workflow_dispatch'", "github.event_nam == 'workflow_dispatch'"
    )
    assert broken != text
    findings = testing.actionlint({WORKFLOW: broken})
    assert any("event_nam" in f["message"] for f in findings), findings
    # The matrix is linted too: a job reading a matrix key it does not define is reported.
    broken = text.replace("matrix.python-version }}\n", "matrix.python }}\n")
    assert broken != text
    findings = testing.actionlint({WORKFLOW: broken})
    assert any('property "python" is not defined' in f["message"] for f in findings), findings


def test_checks_on_push_and_pull_request_run_the_shared_commands(github):
    _, data = workflow(github, "local")
    on = triggers(data)
    assert on == {"push": {"branches": ["main"]}, "pull_request": None, "workflow_dispatch": None}
    check = data["jobs"]["check"]
    assert check["if"] == "github.event_name == 'push' || github.event_name == 'pull_request'"
    runs = [step["run"] for step in check["steps"] if "run" in step]
    assert runs == ["uv sync --locked", *[step.command for step in ci.CHECKS]]
    assert "polster check" in runs
    assert "dg check defs" in runs


@pytest.mark.parametrize("storage", sorted(CONTEXTS))
def test_no_timer_the_pipeline_runs_on_manual_dispatch_only(github, storage):
    text, data = workflow(github, storage)
    assert "cron" not in text and "schedule:" not in text
    assert "schedule" not in triggers(data)
    assert data["jobs"]["run"]["if"] == "github.event_name == 'workflow_dispatch'"
    # The header says so, in the platform's words, and points at Dagster's schedule.
    assert "# On manual dispatch (Actions > polster > Run workflow): python run_polster.py" in text
    assert "Daily" not in text and "06:00" not in text
    assert "polster_pipeline_daily" in text


@pytest.mark.parametrize(
    "versions, matrix",
    [
        (None, ["3.10", "3.14"]),  # the project's declared versions, oldest and newest
        (("3.11", "3.12", "3.13"), ["3.11", "3.13"]),
        (("3.12",), ["3.12"]),
    ],
)
def test_checks_run_on_the_oldest_and_newest_python_the_run_on_the_newest(github, versions, matrix):
    context = testing.ci_context()
    if versions:
        context.python_versions = versions
    assert context.python_versions[0] == matrix[0] and context.python_versions[-1] == matrix[-1]
    data = yaml.safe_load(github.render(context)[WORKFLOW])
    check, run = data["jobs"]["check"], data["jobs"]["run"]
    assert check["strategy"]["matrix"] == {"python-version": matrix}
    assert check["strategy"]["fail-fast"] is False
    assert check["steps"][1]["with"]["python-version"] == "${{ matrix.python-version }}"
    assert run["steps"][1]["with"]["python-version"] == matrix[-1]
    assert "strategy" not in run


def test_current_idiom_least_permissions_concurrency_cache(github):
    _, data = workflow(github, "local")
    assert data["permissions"] == {"contents": "read"}
    assert "github.ref" in data["concurrency"]["group"]
    assert data["jobs"]["run"]["concurrency"]["cancel-in-progress"] is False
    for job in data["jobs"].values():
        assert job["timeout-minutes"] > 0
        uses = [step["uses"] for step in job["steps"] if "uses" in step]
        assert uses[:2] == ["actions/checkout@v7", "astral-sh/setup-uv@v8.3.2"]
        setup_uv = job["steps"][1]["with"]
        assert setup_uv["enable-cache"] is True
        assert setup_uv["cache-dependency-glob"] == "uv.lock"
        assert setup_uv["activate-environment"] is True
        assert job["steps"][2] == {
            "name": "Install the project from uv.lock",
            "run": "uv sync --locked",
        }


def test_pipeline_run_takes_settings_from_secrets_and_variables(github):
    text, data = workflow(github, "vault")
    run = data["jobs"]["run"]
    step = next(s for s in run["steps"] if s.get("run") == "python run_polster.py")
    assert step["env"]["STORAGE_BACKEND"] == "vault"
    assert step["env"]["VAULT_TOKEN"] == "${{ secrets.VAULT_TOKEN }}"
    assert step["env"]["VAULT_URL"] == "${{ vars.VAULT_URL }}"
    assert step["env"]["DUAL_WRITE_SAMPLE_SIZE"] == "${{ vars.DUAL_WRITE_SAMPLE_SIZE }}"
    # The secret's value (its default in the plugin) never reaches the file or the README.
    assert "tok-3f9a" not in text
    assert "tok-3f9a" not in github.readme_section(CONTEXTS["vault"]())
    # Secrets are given to the one step that needs them, never to the check job.
    assert "secrets." not in yaml.safe_dump(data["jobs"]["check"])


def test_names_come_from_the_project_never_from_the_plugin(github):
    local_text, _ = workflow(github, "local")
    vault_text, _ = workflow(github, "vault")
    for text in (local_text, vault_text):
        assert "ADLS" not in text and "AWS" not in text
    assert "VAULT" not in local_text
    assert "upload-artifact" in local_text  # local tables are kept as an artifact
    assert "upload-artifact" not in vault_text


def test_readme_section_says_what_to_set(github):
    section = github.readme_section(CONTEXTS["vault"]())
    assert section.startswith("### Continuous Integration (GitHub Actions)")
    assert "gh secret set VAULT_TOKEN" in section
    assert 'gh variable set VAULT_URL --body "your value"' in section
    assert "VAULT_PATH" in section  # optional: in the table, no command
    assert "gh variable set VAULT_PATH" not in section


def test_readme_section_says_the_schedule_is_dagsters_and_how_to_move_it(github):
    section = github.readme_section(CONTEXTS["local"]())
    assert "06:00 UTC" not in section and "Every day" not in section
    assert "on Python 3.10 and 3.14" in section and "`uv sync --locked`" in section
    assert "When you start it by hand (Actions > polster > Run workflow)" in section
    assert "schedule is Dagster's `polster_pipeline_daily`" in section
    assert 'add `schedule: [{cron: "0 6 * * *"}]` under `on:`' in section
    assert "`default_status=dg.DefaultScheduleStatus.STOPPED`" in section


def test_create_remote_command(github):
    assert github.create_remote(testing.ci_context("shop-data")) == [
        "gh", "repo", "create", "shop-data", "--private", "--source=.", "--remote=origin",
    ]  # fmt: skip
    assert github.login_check == ("gh", "auth", "status")
    assert github.remote_url_on_stdout is False
