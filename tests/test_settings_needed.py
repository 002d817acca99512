"""What a user must fill in, said the same way everywhere (issue 14): ``Setting.required``,
``Setting.one_of`` groups and optional settings without a default, in the backend's start-up
check, ``polster enable``, ``.env`` / ``.env.example``, the README and the CI files."""

from __future__ import annotations

from pathlib import Path

import pytest

from polster_core import ci, testing
from polster_core.errors import PolsterError
from polster_core.hookspecs import hookimpl
from polster_core.plugins import Plugins
from polster_core.scaffold import env_file, settings_table
from polster_core.settings import Settings
from polster_core.specs import Setting, StorageBackend, missing_settings, needed_settings
from polster_core.storage import LocalBackend, Storage
from polster_core.testing.projects import clean_env, run_polster

from .helpers import install_target

VAULT = (
    Setting("VAULT_URL", "Address of the vault", required=True),
    Setting("VAULT_PATH", "Path of the tables (empty: <project>/data)"),  # optional, no default
    Setting("VAULT_REGION", "Region", default="eu"),
    Setting("VAULT_PASSWORD", "Password", secret=True, one_of="login"),
    Setting("VAULT_KEY_FILE", "Key file", one_of="login"),
    Setting("VAULT_SESSION", "Session token of temporary credentials", secret=True),
)


class VaultPlugin:
    @hookimpl
    def polster_storage_backends(self, register):
        def factory(settings):
            backend = LocalBackend(settings.root / "vault")
            backend.name = "vault"
            return backend

        register(StorageBackend("vault", "A vault", factory=factory, settings=VAULT))


def storage(tmp_path: Path, **env) -> Storage:
    plugins = Plugins(autoload=False)
    plugins.pm.register(VaultPlugin(), name="vault")
    return Storage(Settings(tmp_path, "demo", {"STORAGE_BACKEND": "vault", **env}), plugins)


def test_needed_settings_are_required_ones_and_one_of_groups():
    groups = [[s.name for s in group] for group in needed_settings(VAULT)]
    assert groups == [["VAULT_URL"], ["VAULT_PASSWORD", "VAULT_KEY_FILE"]]
    values = {"VAULT_KEY_FILE": "/k"}
    assert missing_settings(VAULT, lambda name: values.get(name, "")) == ["VAULT_URL"]
    assert missing_settings(VAULT, lambda name: "") == [
        "VAULT_URL",
        "one of VAULT_PASSWORD or VAULT_KEY_FILE",
    ]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"VAULT_KEY_FILE": "/k"}, "needs VAULT_URL: set it in .env"),
        ({"VAULT_URL": "u"}, "needs one of VAULT_PASSWORD or VAULT_KEY_FILE: set one in .env"),
        ({}, "needs VAULT_URL and one of VAULT_PASSWORD or VAULT_KEY_FILE: set them in .env"),
    ],
)
def test_the_backend_refuses_to_start_without_what_is_needed(tmp_path, env, message):
    with pytest.raises(PolsterError) as info:
        _ = storage(tmp_path, **env).backend
    assert str(info.value) == f"storage backend 'vault' {message}"


def test_one_setting_of_a_group_is_enough_and_optional_ones_may_stay_empty(tmp_path):
    for login in ({"VAULT_PASSWORD": "pw-123456"}, {"VAULT_KEY_FILE": "/k"}):
        assert storage(tmp_path, VAULT_URL="u", **login).backend.name == "vault"


def test_ci_files_and_readme_list_the_same_settings_to_fill_in():
    context = testing.ci_context("shop", "vault", VAULT)
    settings = ci.pipeline_settings(context)
    assert [s.name for s in settings.to_set] == ["VAULT_URL", "VAULT_KEY_FILE", "VAULT_PASSWORD"]
    header = ci.header(context, "Test CI", "repository secrets")
    assert "# Variables to set: VAULT_URL." in header
    assert "# Set one of VAULT_PASSWORD or VAULT_KEY_FILE." in header
    # Optional without a default: optional, not "to set" (the bug of issue 14).
    unwrapped = header.replace("\n#   ", " ")
    optional = next(line for line in unwrapped.splitlines() if "Optional variables" in line)
    assert "VAULT_PATH" in optional and "VAULT_REGION" in optional
    table = ci.settings_table(context, "secret", "variable")
    assert "| `VAULT_URL` | variable |" in table
    assert "| `VAULT_PATH` | variable (optional) |" in table
    assert "| `VAULT_KEY_FILE` | variable (one of VAULT_PASSWORD or VAULT_KEY_FILE) |" in table
    assert "| `VAULT_PASSWORD` | secret (one of VAULT_PASSWORD or VAULT_KEY_FILE) |" in table
    assert "| `VAULT_SESSION` | secret (optional) |" in table


def test_env_files_and_the_readme_table_mark_what_to_fill_in():
    context = testing.ci_context("shop", "vault", VAULT)
    dotenv = env_file(context, example=False)
    assert "# Address of the vault (required)\nVAULT_URL=\n" in dotenv
    assert "# Path of the tables (empty: <project>/data)\nVAULT_PATH=\n" in dotenv
    login = "(required: one of VAULT_PASSWORD or VAULT_KEY_FILE"
    assert f"# Password {login}, secret)\nVAULT_PASSWORD=\n" in dotenv
    assert f"# Key file {login})\nVAULT_KEY_FILE=\n" in dotenv
    readme = settings_table(context)
    assert "| `VAULT_URL` | Address of the vault (required) | - |" in readme
    assert f"| `VAULT_PASSWORD` | Password {login}, secret) | - |" in readme


# 4. .env.example: every setting, secrets by name only ----------------------------------------


def test_env_example_names_every_setting_and_never_a_secret_value():
    context = testing.ci_context("shop", "vault", testing.VAULT_SETTINGS)
    example = env_file(context, example=True)
    dotenv = env_file(context, example=False)

    def names(text):
        return [line.split("=")[0] for line in text.splitlines() if "=" in line and line[0] != "#"]

    assert names(dotenv) == names(example)
    assert "VAULT_TOKEN=tok-3f9a-not-a-real-secret\n" in dotenv  # .env: the plugin's default
    assert "\nVAULT_TOKEN=\n" in example  # .env.example: the name, never the value
    assert "tok-3f9a" not in example
    assert "tok-3f9a" not in settings_table(context)  # nor in the README's table


# 3, 4 and 8 through the CLI, with a third-party backend installed as a user would -------------


@pytest.fixture(scope="module")
def sftp_env(tmp_path_factory) -> dict:
    site = install_target(tmp_path_factory, "polster_sftp")
    return clean_env(PYTHONPATH=str(site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)


def test_init_enable_and_ci_agree_on_what_to_fill_in(tmp_path, sftp_env):
    args = ("--no-git", "--no-setup", "--platform", "github")
    init = run_polster("init", "shop", "--storage", "sftp", *args, cwd=tmp_path, env=sftp_env)
    assert init.returncode == 0, init.stderr
    project = tmp_path / "shop"
    dotenv = (project / ".env").read_text()
    assert "# SFTP server (required)\nSFTP_HOST=" in dotenv
    assert "# Password (required: one of SFTP_PASSWORD or SFTP_KEY_FILE, secret)" in dotenv
    assert "(required" not in dotenv.split("SFTP_BASE_PATH")[0].rsplit("\n", 2)[-2]
    example = (project / ".env.example").read_text()
    assert "\nSFTP_PASSWORD=\n" in example  # named, no value
    workflow = (project / ".github/workflows/polster.yml").read_text()
    assert "# Variables to set: SFTP_HOST, SFTP_USER." in workflow
    assert "# Set one of SFTP_PASSWORD or SFTP_KEY_FILE." in workflow
    readme = (project / "README.md").read_text()
    assert "gh secret set SFTP_PASSWORD" in readme
    assert 'gh variable set SFTP_KEY_FILE --body "your value"' in readme
    assert "gh variable set SFTP_BASE_PATH" not in readme  # optional, no default

    other = tmp_path / "other"
    other.mkdir()
    assert run_polster("init", "local-one", *args[:2], cwd=other, env=sftp_env).returncode == 0
    enable = run_polster("enable", "sftp", cwd=other / "local-one", env=sftp_env)
    assert enable.returncode == 0, enable.stderr
    assert (
        "Fill in .env: SFTP_HOST, SFTP_USER, one of SFTP_PASSWORD or SFTP_KEY_FILE "
        "(the others are optional" in enable.stdout
    )
    merged = (other / "local-one" / ".env").read_text()
    assert "# Password (required: one of SFTP_PASSWORD or SFTP_KEY_FILE, secret)" in merged


# 8. The .env comment names the backends installed, not a fixed list ---------------------------


def test_storage_backend_comment_names_the_installed_backends(tmp_path, sftp_env):
    """The comment names what the project's own environment installs (local, and the backend
    it was made with), not every backend the polster CLI happens to have (issue 26)."""
    alone = run_polster("init", "alone", "--no-git", "--no-setup", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    line = (tmp_path / "alone" / ".env").read_text().split("\nSTORAGE_BACKEND=")[0]
    assert "adls" not in line and "s3" not in line  # only local is installed here
    assert "local (this project installs only local; `polster enable NAME`" in line
    more = run_polster("init", "more", "--no-git", "--no-setup", cwd=tmp_path, env=sftp_env)
    assert more.returncode == 0, more.stderr
    line = (tmp_path / "more" / ".env").read_text().split("\nSTORAGE_BACKEND=")[0]
    assert "sftp" not in line  # the CLI has the sftp plugin; the project does not install it
    made = run_polster(
        "init", "own", "--no-git", "--no-setup", "--storage", "sftp", cwd=tmp_path, env=sftp_env
    )
    assert made.returncode == 0, made.stderr
    line = (tmp_path / "own" / ".env").read_text().split("\nSTORAGE_BACKEND=")[0]
    assert "Where tables are stored: local, sftp (this project installs both" in line
