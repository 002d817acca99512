"""Helpers for testing asset template plugins in a real generated project.

- :func:`new_project` writes a project as ``polster init --no-setup --no-git`` does;
- :func:`add_asset` adds an asset as ``polster add-asset`` does, with its checks (the core file
  and the wrapper are valid Python, the wrapper defines ``@dg.asset`` ``run_LAYER_NAME`` taking
  the upstream assets), and raises add-asset's :class:`~polster_core.errors.PolsterError`
  when a check fails;
- :func:`ruff_errors` runs ``ruff check`` and ``ruff format --check`` with the project's own
  settings: a generated project's CI runs them, so a template's files must pass.

Nothing here is imported by the CLI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import PolsterError
from ..project.names import validate_asset_name, validate_project_name
from ..project.partition_specs import choose_partitioning
from .tools import ToolMissing


def new_project(
    parent: Path | str, name: str = "demo", storage: str = "local", platform: str = "", plugins=None
) -> Path:
    """``parent/name``, a new project with every file ``polster init`` writes (no .venv, no git).

    ``plugins`` defaults to every installed plugin (entry points loaded), as the CLI has them.
    """
    from ..plugin_system.manager import Plugins
    from ..project.scaffold import build_context, check_target, init_plan

    plugins = plugins or Plugins(autoload=True)
    target = Path(parent) / validate_project_name(name)
    check_target(target, force=False)
    context = build_context(name, plugins, storage, platform)
    init_plan(target, context, plugins).apply()
    return target


def add_asset(
    project: Path | str,
    layer: str,
    name: str,
    template: str = "default",
    upstream: tuple[str, ...] | list[str] = (),
    plugins=None,
    partitions: str | None = None,
    start: str | None = None,
) -> dict[str, str]:
    """Add asset ``layer/name`` to ``project`` with ``template``, as ``polster add-asset`` does.

    ``upstream`` are asset keys or names, as ``--deps`` takes them; ``partitions`` (``daily``,
    ``hourly``, ``weekly``, ``monthly`` or ``none``) and ``start`` (``2026-11-01``) as
    ``--partitions`` and ``--start`` take them: by default an asset is partitioned like its
    partitioned upstream. A template needs nothing of its own for partitions: Polster's shared
    wrapper passes the partition key and its IO manager writes one file per partition.
    Returns ``{path relative to the project: text}`` of every file written or changed.
    """
    from ..plugin_system.manager import Plugins
    from ..project.asset_plans import (
        add_asset_plan,
        check_new_asset,
        load_assets,
        resolve_dependency,
    )
    from ..project.model import load_project

    plugins = plugins or Plugins(autoload=True)
    loaded = load_project(Path(project).resolve())
    assets = load_assets(loaded)
    name = validate_asset_name(name)
    check_new_asset(assets, layer, name)
    spec = plugins.asset_templates().get(template)
    if spec is None or layer not in spec.layers:
        raise PolsterError(f"no asset template '{template}' for {layer} is installed")
    keys = [resolve_dependency(assets, ref, layer, name) for ref in upstream]

    assets.load_dependencies()
    partitioning, same, _ = choose_partitioning(assets, keys, partitions, start, spec)
    result = add_asset_plan(loaded, assets, layer, name, spec, keys, partitioning, same)
    result.plan.apply()
    return {
        op.path.relative_to(loaded.root).as_posix(): op.content or ""
        for op in result.plan.ops
        if op.content is not None
    }


def ruff_errors(project: Path | str) -> list[str]:
    """What ``ruff check`` and ``ruff format --check`` find in ``project`` (empty: clean)."""
    beside = Path(sys.executable).parent / "ruff"
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        raise ToolMissing("ruff is not installed: pip install ruff")
    problems = []
    for command in (["check", "--no-cache"], ["format", "--no-cache", "--check", "--diff"]):
        result = subprocess.run(
            [ruff, *command, "."], cwd=project, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            problems.append(f"ruff {command[0]}: {(result.stdout + result.stderr).strip()}")
    return problems
