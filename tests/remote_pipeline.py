"""Helpers for running a generated project's whole pipeline on a storage backend plugin.

The project is made by the real ``polster init --storage NAME``; the pipeline runs as the user
runs it (``python run_polster.py``) in a subprocess, with plugins loaded from entry points.
Afterwards the tests read Dagster's metadata from the run's instance and grep every file the
run left (and everything it printed) for the secrets it was given.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl  # module level: Dagster resolves the assets' annotations here

from tests.conftest import clean_env, run_polster

LAYERS = ("bronze", "silver", "gold")
ASSETS = {layer: f"run_{layer}_example" for layer in LAYERS}

KILL_SWITCH = """

# Added by the test suite: the storage server dies while the pipeline runs.
_extract = extract


def extract():
    import os
    import signal

    os.kill(int(os.environ["POLSTER_TEST_KILL_PID"]), signal.SIGKILL)
    return _extract()
"""


def plugin_env(**extra: str) -> dict[str, str]:
    """A clean environment in which installed plugins load (as for a user)."""
    return clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None, **extra)


def init_project(parent: Path, storage: str, name: str = "dna-platform") -> Path:
    result = run_polster(
        "init", name, "--storage", storage, "--no-git", "--no-setup", cwd=parent, env=plugin_env()
    )
    assert result.returncode == 0, result.stderr
    return parent / name


def set_env(project: Path, **values: str) -> None:
    """Set variables in the project's ``.env``, as a user edits it."""
    path = project / ".env"
    lines = path.read_text(encoding="utf-8").splitlines()
    for key, value in values.items():
        for i, line in enumerate(lines):
            if line.startswith(f"{key}="):
                lines[i] = f"{key}={value}"
                break
        else:
            lines.append(f"{key}={value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def add_kill_switch(project: Path) -> None:
    """Make the bronze example kill ``POLSTER_TEST_KILL_PID`` when it runs."""
    core = project / "src" / "core" / "bronze_example.py"
    text = core.read_text(encoding="utf-8")
    if KILL_SWITCH not in text:
        main = text.index('\nif __name__ == "__main__":')
        core.write_text(text[:main] + KILL_SWITCH + text[main:], encoding="utf-8")


def run_pipeline(project: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python run_polster.py [args]`` with Dagster's home in ``home`` and ``env`` over
    ``.env``."""
    return subprocess.run(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env=plugin_env(DAGSTER_HOME=str(home), **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def materializations(home: Path) -> dict[str, dict]:
    """The latest materialisation's metadata of each example asset, as plain values."""
    import dagster as dg

    found = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for layer, key in ASSETS.items():
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            if event is None:
                continue
            metadata = event.asset_materialization.metadata
            found[layer] = {name: value.value for name, value in metadata.items()}
    return found


def grep_secrets(places: list[Path], texts: list[str], secrets: list[str]) -> list[str]:
    """Where any secret appears: files under ``places`` (but ``.env``), and ``texts``."""
    needles = [s.encode() for s in secrets if s]
    hits = []
    for place in places:
        files = [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())
        for path in files:
            if path.name == ".env" or ".venv" in path.parts:
                continue
            data = path.read_bytes()
            hits += [f"{path}" for needle in needles if needle in data]
    for i, text in enumerate(texts):
        hits += [f"text #{i}" for needle in needles if needle in text.encode()]
    return hits


def run_lazy_assets(root: Path, env: dict[str, str], monkeypatch) -> dict:
    """Materialise two assets in this process that return and take ``pl.LazyFrame``s.

    Returns the type the downstream asset was given, the rows it saw, and the metadata.
    """
    import dagster as dg

    from polster_core import storage as storage_module
    from polster_core.plugins import reset_plugins
    from polster_core.runtime import polster_resources
    from polster_core.testing import table

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("POLSTER_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    reset_plugins()
    storage_module.clear_storages()
    seen: dict = {}

    @dg.asset(name="run_bronze_lazy")
    def bronze() -> pl.LazyFrame:
        return table(30_000).lazy().filter(pl.col("id") % 3 == 0)

    @dg.asset(name="run_silver_lazy")
    def silver(run_bronze_lazy: pl.LazyFrame) -> pl.LazyFrame:
        seen["type"] = type(run_bronze_lazy)
        seen["rows"] = run_bronze_lazy.select(pl.len()).collect().item()
        return run_bronze_lazy.with_columns(double=pl.col("value") * 2)

    try:
        result = dg.materialize([bronze, silver], resources=polster_resources(root))
    finally:
        storage_module.clear_storages()
        reset_plugins()
    assert result.success
    for key in ("run_bronze_lazy", "run_silver_lazy"):
        events = result.asset_materializations_for_node(key)
        seen[key] = {name: value.value for name, value in events[0].metadata.items()}
    return seen
