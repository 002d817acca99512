"""``polster add-asset`` and ``polster remove-asset`` as plans of file operations.

Everything is validated and rendered before anything is written: names, layer rules,
dependencies, the template's output (it must parse, and its wrapper must take exactly the
upstream assets asked for) and the registry edit. The plan is then applied all-or-nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import LAYERS
from ..exceptions import PolsterError
from ..plugin_system.specs import AssetContext, AssetTemplate, Setting
from . import envfile
from .graph import (
    ProjectAssets,
    allowed_layers,
    asset_function,
    broken_rule,
    core_path,
    registry_path,
    upstream_of,
    wrapper_path,
)
from .layout import test_path
from .model import Project
from .names import asset_key, asset_name_problem, split_asset_key
from .plan import OutsideProject, Plan
from .purge import LocalTable, table_units
from .pyproject_edit import edit_pyproject, missing_requirements
from .registry import add_registration, new_registry, remove_registration
from .table_spec import add_metadata

SHOWN = 8  # names listed in a message before "and N more"


def line_length(project: Project) -> int:
    """The project's ruff line length (ruff's default, 88, when it sets none)."""
    value = project.pyproject.get("tool", {}).get("ruff", {}).get("line-length", 88)
    return value if isinstance(value, int) and value > 0 else 88


def allow_same_layer(project: Project) -> bool:
    value = project.config.get("allow_same_layer_deps", False)
    if not isinstance(value, bool):
        raise PolsterError(
            "[tool.polster] allow_same_layer_deps in pyproject.toml must be true or false, "
            f"not {value!r}: fix it"
        )
    return value


def load_assets(project: Project) -> ProjectAssets:
    return ProjectAssets(project.root, allow_same_layer(project))


def validate_layer(layer: str | None) -> str:
    value = (layer or "").strip().lower()
    if value not in LAYERS:
        shown = f"'{layer}'" if layer else "(none)"
        raise PolsterError(f"unknown layer {shown}: use --layer bronze, silver or gold")
    return value


def names_list(names: list[str]) -> str:
    """``a, b, c`` (and N more), for messages."""
    if not names:
        return "none"
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


# add-asset ----------------------------------------------------------------------------------


def parse_deps(text: str | None) -> list[str]:
    """``"a, run_bronze_b"`` -> ``["a", "run_bronze_b"]`` (empty items and repeats dropped)."""
    found: list[str] = []
    for item in (text or "").split(","):
        item = item.strip()
        if item and item not in found:
            found.append(item)
    return found


def resolve_dependency(assets: ProjectAssets, ref: str, layer: str, name: str) -> str:
    """The asset key ``ref`` names (full key or short name), checked against the layer rules."""
    allow = assets.allow_same_layer
    allowed = allowed_layers(layer, allow)
    new_key = asset_key(layer, name)
    parts = split_asset_key(ref)
    if parts is None and asset_name_problem(ref):
        raise PolsterError(
            f"'{ref}' is not an asset name: name dependencies like run_bronze_api_users, or "
            "api_users when that is unambiguous"
        )
    if ref == new_key:
        raise PolsterError(f"{new_key} cannot depend on itself: drop it from --deps")
    if parts is not None:
        key = ref
        if key not in assets.assets:
            raise PolsterError(
                f"unknown dependency {key}: no such asset in this project; "
                f"{_choices_hint(assets, allowed)}"
            )
    else:
        candidates = [a for a in assets.sorted_assets() if a.name == ref]
        fitting = [a for a in candidates if a.layer in allowed]
        if len(fitting) > 1:
            keys = " or ".join(a.key for a in fitting)
            raise PolsterError(f"dependency '{ref}' is ambiguous ({keys}): name it in full")
        if fitting:
            key = fitting[0].key
        elif candidates:
            key = candidates[0].key
        else:
            raise PolsterError(
                f"unknown dependency '{ref}': no asset of that name; "
                f"{_choices_hint(assets, allowed)}"
            )
    upstream_layer = split_asset_key(key)[0]
    if upstream_layer not in allowed:
        why = broken_rule(layer, upstream_layer, allow)
        raise PolsterError(f"{new_key} cannot depend on {key}: {why}")
    return key


def _choices_hint(assets: ProjectAssets, allowed: tuple[str, ...]) -> str:
    keys = [a.key for a in assets.in_layers(allowed)]
    layers = " or ".join(allowed)
    return f"{layers} assets: {names_list(keys)}"


def check_new_asset(assets: ProjectAssets, layer: str, name: str) -> None:
    key = asset_key(layer, name)
    existing = assets.assets.get(key)
    root = assets.root
    taken = [
        rel for rel in (wrapper_path(layer, name), core_path(layer, name)) if (root / rel).exists()
    ]
    if existing is not None or taken:
        where = ", ".join(taken) or registry_path(layer)
        raise PolsterError(
            f"asset {key} already exists ({where}): choose another name, or remove it first "
            f"with `polster remove-asset --layer {layer} --name {name}`"
        )


@dataclass
class AddPlan:
    plan: Plan
    key: str
    template: AssetTemplate
    upstream: list[str]
    settings: list[Setting] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)  # added to pyproject.toml
    manual_requirements: list[str] = field(default_factory=list)  # to add by hand
    example_updated: bool = False  # the settings were added to .env.example


def add_asset_plan(
    project: Project,
    assets: ProjectAssets,
    layer: str,
    name: str,
    template: AssetTemplate,
    upstream: list[str],
    partitioning=None,
    partitioned_upstream: tuple[str, ...] = (),
    table=None,
) -> AddPlan:
    """Render the new asset and plan its files; raises :class:`PolsterError` on any problem."""
    key = asset_key(layer, name)
    context = AssetContext(
        project.name,
        layer,
        name,
        tuple(upstream),
        partitions=partitioning.kind if partitioning else "none",
        start=partitioning.start if partitioning else "",
        partitioned_upstream=tuple(partitioned_upstream),
        timezone=partitioning.timezone if partitioning else "",
    )
    core = template.render_core(context)
    wrapper = template.render_wrapper(context)
    if table is not None:  # a Delta table (issue 29): its metadata in the wrapper
        wrapper = add_metadata(wrapper, key, table)
    _check_rendered(template, core_path(layer, name), core)
    _check_wrapper(template, wrapper_path(layer, name), wrapper, key, upstream)

    plan = Plan(project.root)
    plan.create(core_path(layer, name), core)
    plan.create(wrapper_path(layer, name), wrapper)
    width = line_length(project)
    init = project.root / registry_path(layer)
    if init.is_file():
        try:
            text = add_registration(init.read_text(encoding="utf-8"), key, width)
        except PolsterError as exc:
            raise PolsterError(f"cannot register {key} in {registry_path(layer)}: {exc}") from None
        plan.update(registry_path(layer), text)
    else:
        plan.create(registry_path(layer), new_registry(layer, project.name, [key], width))

    result = AddPlan(plan, key, template, list(upstream))
    if template.settings:
        result.settings = list(template.settings(context))
        example = project.root / ".env.example"
        if result.settings and example.is_file():
            text = example.read_text(encoding="utf-8")
            plan.update(".env.example", add_settings_block(text, key, template, result.settings))
            result.example_updated = True
    present = project.pyproject.get("project", {}).get("dependencies", [])
    missing = missing_requirements(present, template.requirements)
    if missing:
        pyproject = project.root / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        edited = edit_pyproject(text, missing)
        if edited is None:
            result.manual_requirements = missing
        else:
            plan.update("pyproject.toml", edited)
            result.requirements = missing
    return result


def _check_rendered(template: AssetTemplate, rel: str, text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise PolsterError(
            f"asset template '{template.name}' ({template.plugin or 'built-in'}) rendered "
            f"invalid Python for {rel} (line {exc.lineno}: {exc.msg}): report it to its authors"
        ) from None


def _check_wrapper(template, rel, text, key, upstream) -> None:
    tree = _check_rendered(template, rel, text)
    function = asset_function(tree, key)
    if function is None or upstream_of(function) != list(upstream):
        raise PolsterError(
            f"asset template '{template.name}' ({template.plugin or 'built-in'}) rendered a "
            f"wrapper without an @dg.asset function {key}({', '.join(upstream)}): report it to "
            "its authors"
        )


# Settings blocks in .env.example ------------------------------------------------------------


def _block_markers(key: str) -> tuple[str, str]:
    return f"# >>> asset {key}", f"# <<< asset {key}"


def add_settings_block(text: str, key: str, template: AssetTemplate, settings) -> str:
    """``.env.example`` with the asset's settings appended, commented out, between markers."""
    start, end = _block_markers(key)
    lines = [f"{start} (template {template.name}): uncomment and set in .env to use"]
    for setting in settings:
        note = " (secret)" if setting.secret else ""
        lines.append(f"# {setting.description}{note}")
        value = "" if setting.secret else (setting.default or setting.example)
        lines.append(f"# {setting.name}={value}")
    lines.append(end)
    body = text.rstrip("\n")
    return (body + "\n\n" if body else "") + "\n".join(lines) + "\n"


def remove_settings_block(text: str, key: str) -> str | None:
    """``.env.example`` without the asset's block, or ``None`` when it has none."""
    start, end = _block_markers(key)
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.startswith(start)), None)
    if first is None:
        return None
    last = next((i for i in range(first, len(lines)) if lines[i].rstrip("\n") == end), None)
    if last is None:
        return None
    if first > 0 and not lines[first - 1].strip():
        first -= 1
    del lines[first : last + 1]
    return "".join(lines)


# remove-asset -------------------------------------------------------------------------------


@dataclass
class RemovePlan:
    plan: Plan
    key: str
    notes: list[str] = field(default_factory=list)
    data_files: list[Path] = field(default_factory=list)  # stored data that --purge-data deletes
    backend: str = "local"  # STORAGE_BACKEND: a remote one's table is purged by the command
    local: Any = None  # with --purge-data, the local files to delete (a purge.LocalTable)


def remove_asset_plan(
    project: Project,
    assets: ProjectAssets,
    layer: str,
    name: str,
    purge_data: bool,
    force: bool,
) -> RemovePlan:
    key = asset_key(layer, name)
    asset = assets.assets.get(key)
    core_file = project.root / core_path(layer, name)
    if asset is None and not core_file.exists():
        here = [a.key for a in assets.in_layers((layer,))]
        raise PolsterError(
            f"there is no asset {key} in this project ({layer} assets: {names_list(here)})"
        )
    assets.load_dependencies()
    unreadable = sorted(
        a.wrapper for a in assets.assets.values() if a.error and a.key != key and a.wrapper
    )
    if unreadable and not force:
        raise PolsterError(
            f"cannot tell whether other assets depend on {key}: {names_list(unreadable)} "
            "cannot be read (run `polster check`); fix them, or pass --force"
        )
    dependents = [k for k in (asset.downstream if asset else []) if k != key]
    if dependents:
        first = split_asset_key(dependents[0])
        hint = (
            f" (`polster remove-asset --layer {first[0]} --name {first[1]}`)"
            if len(dependents) == 1
            else ""
        )
        raise PolsterError(
            f"{key} is used by {names_list(dependents)}: remove those first{hint} or edit "
            "them (remove-asset never edits or deletes other assets, even with --force)"
        )

    plan = Plan(project.root)
    result = RemovePlan(plan, key)
    # The asset's own test file (the examples' tests/test_{layer}_example.py) goes with it.
    for rel in (core_path(layer, name), wrapper_path(layer, name), test_path(layer, name)):
        if (project.root / rel).exists():
            plan.delete(rel)
    init = project.root / registry_path(layer)
    if init.is_file():
        text = init.read_text(encoding="utf-8")
        try:
            edited = remove_registration(text, key, line_length(project))
        except PolsterError as exc:
            if not force:
                raise PolsterError(
                    f"cannot unregister {key} in {registry_path(layer)}: {exc}"
                ) from None
            edited = text
            result.notes.append(f"{registry_path(layer)} was left as it is: {exc}")
        if edited != text:
            plan.update(registry_path(layer), edited)
    example = project.root / ".env.example"
    if example.is_file():
        edited = remove_settings_block(example.read_text(encoding="utf-8"), key)
        if edited is not None:
            plan.update(".env.example", edited)
    for rel in _users_in_tests(project.root, layer, name, test_path(layer, name)):
        result.notes.append(
            f"{rel} still uses core.{layer}_{name} or {key}: update or delete those tests"
        )
    for note in unreadable:
        result.notes.append(f"{note} could not be read; --force removed {key} anyway")
    result.data_files, result.backend = stored_data(project, layer, name)
    if purge_data and result.data_files:  # deleted without copying them (no space needed)
        outside = []
        for unit in table_units(result.data_files, layer, name):
            try:
                plan.purge(unit.relative_to(project.root).as_posix())
            except (ValueError, OutsideProject):  # LOCAL_DATA_DIR elsewhere
                outside.append(unit)
        if outside:
            result.local = LocalTable(project.root, outside)
    return result


def _users_in_tests(root: Path, layer: str, name: str, own: str) -> list[str]:
    """Test files but ``own`` that import the asset's core module or wrapper (with ``ast``)."""
    module = f"{layer}_{name}"
    key = asset_key(layer, name)
    found = []
    for path in sorted((root / "tests").rglob("*.py")) if (root / "tests").is_dir() else []:
        if path.relative_to(root).as_posix() == own:
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[-1] in (module, key) or f".{module}." in f".{n}." for n in names):
                found.append(path.relative_to(root).as_posix())
                break
    return found


def env_setting(project: Project, name: str, default: str) -> str:
    """A setting as the generated project reads it: the environment over ``.env``, read by the
    one ``.env`` reader the run time uses too (so the last of two lines wins for both)."""

    return envfile.setting(project.root, name, default)


def stored_data(project: Project, layer: str, name: str) -> tuple[list[Path], str]:
    """The local files holding the asset's table (table, sample, fallback marker); backend."""
    base = Path(env_setting(project, "LOCAL_DATA_DIR", "data"))
    if not base.is_absolute():
        base = project.root / base
    candidates = [
        base / layer / f"{name}.parquet",
        base / "_samples" / layer / f"{name}.sample.parquet",
        base / layer / f".{name}.fallback",
    ]
    # A partitioned table: every partition's file (and its sample) in the table's folder.
    for folder in (base / layer / name, base / "_samples" / layer / name):
        if folder.is_dir():
            candidates.extend(sorted(p for p in folder.rglob("*") if p.is_file()))
    backend = env_setting(project, "STORAGE_BACKEND", project.storage).strip().lower()
    return [p for p in candidates if p.is_file()], backend or "local"
