"""`polster remove-asset`: files, registration, dependents, --force, --purge-data, --dry-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from polster_core.testing.projects import assert_one_line_error, run_polster, tree_hash

from .assets_helpers import add, assert_ruff_clean, new_project, polster_ok, run_in_terminal


@pytest.fixture
def project(tmp_path) -> Path:
    project = new_project(tmp_path)
    add(project, "bronze", "customers")
    add(project, "bronze", "cust", "--template", "csv")
    add(project, "bronze", "old_data_source")
    add(project, "silver", "clean_customers", "--deps", "customers")
    return project


def registry(project: Path, layer: str) -> str:
    return (project / f"src/orchestration/assets/{layer}/__init__.py").read_text()


def test_remove_deletes_both_files_and_the_registration(project):
    out = polster_ok(project, "remove-asset", "--layer", "bronze", "--name", "old_data_source")
    assert "delete src/core/bronze_old_data_source.py" in out
    assert not (project / "src/core/bronze_old_data_source.py").exists()
    assert not (project / "src/orchestration/assets/bronze/run_bronze_old_data_source.py").exists()
    assert "old_data_source" not in registry(project, "bronze")
    assert polster_ok(project, "check").startswith("OK:")


def test_a_prefix_name_is_never_confused_with_a_longer_one(project):
    polster_ok(project, "remove-asset", "--layer", "bronze", "--name", "cust")
    text = registry(project, "bronze")
    assert "from .run_bronze_customers import run_bronze_customers" in text
    assert '"run_bronze_customers"' in text
    assert "run_bronze_cust\n" not in text and '"run_bronze_cust"' not in text
    assert (project / "src/core/bronze_customers.py").is_file()
    # its settings block left .env.example; the other assets' did not
    assert "BRONZE_CUST_CSV_PATH" not in (project / ".env.example").read_text()
    before = tree_hash(project)
    result = run_polster("remove-asset", "--layer", "bronze", "--name", "cus", cwd=project)
    assert_one_line_error(result, "there is no asset run_bronze_cus", "customers")
    assert tree_hash(project) == before


def test_comments_and_user_code_in_the_registry_survive(project):
    init = project / "src/orchestration/assets/bronze/__init__.py"
    text = init.read_text().replace(
        "from .run_bronze_old_data_source import",
        "# Legacy feed, kept until March.\nfrom .run_bronze_old_data_source import",
    )
    text += "\n# Hand-written: an extra helper the team shares.\nTEAM = 'data'\n"
    init.write_text(text)
    refused = run_polster(
        "remove-asset", "--layer", "bronze", "--name", "customers", "--force", cwd=project
    )
    assert refused.returncode == 1  # it has a dependent: refused even with --force
    assert init.read_text() == text
    polster_ok(project, "remove-asset", "--layer", "bronze", "--name", "cust")
    after = init.read_text()
    assert "# Legacy feed, kept until March." in after
    assert "# Hand-written: an extra helper the team shares.\nTEAM = 'data'\n" in after
    assert after.startswith('"""Bronze assets of shop.')
    add(project, "bronze", "zeta")
    assert "TEAM = 'data'" in init.read_text()


def test_removing_one_with_dependents_is_refused_naming_them(project):
    before = tree_hash(project)
    for extra in ([], ["--force"]):
        result = run_polster(
            "remove-asset", "--layer", "bronze", "--name", "customers", *extra, cwd=project
        )
        assert_one_line_error(result, "run_bronze_customers is used by run_silver_clean_customers")
        assert tree_hash(project) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layer", "bronze", "--name", "nothing_here"], "there is no asset run_bronze_nothing"),
        (["--layer", "gold", "--name", "customers"], "there is no asset run_gold_customers"),
        (["--layer", "bronze", "--name", "../x"], "is a path"),
        (["--layer", "bronze", "--name", "Bad"], "not a valid asset name"),
        (["--layer", "stone", "--name", "x"], "unknown layer 'stone'"),
        (["--layer", "bronze"], "an asset name is required"),
    ],
)
def test_bad_removals_are_one_line_and_change_nothing(project, args, message):
    before = tree_hash(project)
    result = run_polster("remove-asset", *args, cwd=project)
    assert_one_line_error(result, message)
    assert tree_hash(project) == before


def test_dry_run_shows_everything_and_changes_nothing(project):
    data = project / "data/bronze/old_data_source.parquet"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"PAR1")
    before = tree_hash(project)
    out = polster_ok(
        project,
        "remove-asset",
        "--layer",
        "bronze",
        "--name",
        "old_data_source",
        "--dry-run",
        "--purge-data",
    )
    assert "delete src/core/bronze_old_data_source.py" in out
    assert "delete src/orchestration/assets/bronze/run_bronze_old_data_source.py" in out
    assert "update src/orchestration/assets/bronze/__init__.py" in out
    assert "delete data/bronze/old_data_source.parquet" in out
    assert "Nothing was written" in out
    assert tree_hash(project) == before


def test_stored_data_is_kept_unless_purged(project):
    for name in ("old_data_source", "customers"):
        path = project / f"data/bronze/{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1")
    sample = project / "data/_samples/bronze/old_data_source.sample.parquet"
    sample.parent.mkdir(parents=True)
    sample.write_bytes(b"PAR1")
    add(project, "bronze", "other")
    out = polster_ok(project, "remove-asset", "--layer", "bronze", "--name", "other")
    assert "--purge-data deletes it" not in out  # nothing stored for it
    out = polster_ok(
        project, "remove-asset", "--layer", "bronze", "--name", "old_data_source", "--purge-data"
    )
    assert "delete data/bronze/old_data_source.parquet" in out
    assert not (project / "data/bronze/old_data_source.parquet").exists()
    assert not sample.exists()
    assert (project / "data/bronze/customers.parquet").exists()


def test_purge_data_follows_local_data_dir_in_env(project, tmp_path):
    elsewhere = tmp_path / "tables"
    (elsewhere / "bronze").mkdir(parents=True)
    (elsewhere / "bronze/old_data_source.parquet").write_bytes(b"PAR1")
    env_file = project / ".env"
    env_file.write_text(
        env_file.read_text().replace("LOCAL_DATA_DIR=data", f"LOCAL_DATA_DIR={elsewhere}")
    )
    out = polster_ok(
        project, "remove-asset", "--layer", "bronze", "--name", "old_data_source", "--purge-data"
    )
    assert str(elsewhere / "bronze/old_data_source.parquet") in out
    assert not (elsewhere / "bronze/old_data_source.parquet").exists()


def test_kept_data_is_mentioned(project):
    path = project / "data/bronze/old_data_source.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")
    out = polster_ok(project, "remove-asset", "--layer", "bronze", "--name", "old_data_source")
    assert "Its stored data was kept (data/bronze/old_data_source.parquet)" in out
    assert path.exists()


def test_a_half_removed_asset_can_be_cleaned_up(project):
    (project / "src/orchestration/assets/bronze/run_bronze_old_data_source.py").unlink()
    result = run_polster("check", cwd=project)
    assert result.returncode == 1
    assert "registers run_bronze_old_data_source, but" in result.stdout
    polster_ok(project, "remove-asset", "--layer", "bronze", "--name", "old_data_source")
    assert polster_ok(project, "check").startswith("OK:")


def test_an_unreadable_wrapper_elsewhere_needs_force(project):
    wrapper = project / "src/orchestration/assets/silver/run_silver_clean_customers.py"
    wrapper.write_text(wrapper.read_text() + "\ndef broken(:\n")
    before = tree_hash(project)
    result = run_polster(
        "remove-asset", "--layer", "bronze", "--name", "old_data_source", cwd=project
    )
    assert_one_line_error(
        result,
        "cannot tell whether other assets depend on",
        "run_silver_clean_customers.py",
        "--force",
    )
    assert tree_hash(project) == before
    out = polster_ok(
        project, "remove-asset", "--layer", "bronze", "--name", "old_data_source", "--force"
    )
    assert "could not be read" in out
    assert not (project / "src/core/bronze_old_data_source.py").exists()


def test_interactive_remove_asks_and_confirms(project):
    path = project / "data/bronze/old_data_source.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")
    code, out = run_in_terminal(["remove-asset"], project, ["bronze", "old_data_source", "y", "n"])
    assert code == 1, out  # answered no at the end: nothing removed
    assert "Also delete its stored data (data/bronze/old_data_source.parquet)?" in out
    assert (project / "src/core/bronze_old_data_source.py").exists()
    code, out = run_in_terminal(["remove-asset"], project, ["bronze", "old_data_source", "y", "y"])
    assert code == 0, out
    assert "delete data/bronze/old_data_source.parquet" in out
    assert not (project / "src/core/bronze_old_data_source.py").exists()
    assert not path.exists()


def test_removing_every_asset_leaves_a_loadable_empty_layer(tmp_path):
    project = new_project(tmp_path)
    for layer in ("gold", "silver", "bronze"):
        out = polster_ok(project, "remove-asset", "--layer", layer, "--name", "example")
        # The example's own tests go with it; no other test used it.
        assert f"delete tests/test_{layer}_example.py" in out and "still uses" not in out
        assert not (project / f"tests/test_{layer}_example.py").exists()
    for layer in ("bronze", "silver", "gold"):
        text = registry(project, layer)
        assert text.endswith(
            'edits by hand are fine too (`polster check` reports any drift).\n"""\n\n__all__ = []\n'
        )
    assert "No assets yet" in polster_ok(project, "list")
    assert_ruff_clean(project, "src")
    add(project, "bronze", "fresh")
    assert "from .run_bronze_fresh import run_bronze_fresh" in registry(project, "bronze")
