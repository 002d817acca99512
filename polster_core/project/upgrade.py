"""``polster upgrade`` as a plan: the project rendered again with the installed Polster and
plugins, merged file by file three ways with what the user has.

For each file: *base* is what polster generated then (the record,
:mod:`polster_core.project.record`), *yours* is the file on disk, *new* is what polster
generates now from the recorded answers.
A file you did not touch takes the new text; a file only you changed stays yours; a file both
changed is merged line by line (:mod:`polster_core.project.merge`), with conflict blocks where the
same lines changed on both sides. Registries (``assets/{layer}/__init__.py``) never lose a
registration: when a text merge would, they are edited on structure instead
(:mod:`polster_core.project.registry`).

A project without a record (made before polster kept one) is upgraded from a base rendered
with the installed polster when it is the version ``[tool.polster] polster_version`` names;
otherwise every differing file is a two-way choice (yours or polster's), never a conflict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import LAYERS, __version__
from ..exceptions import PolsterError
from ..plugin_system.specs import AssetContext
from .asset_plans import add_settings_block, line_length
from .graph import core_path, registry_path, wrapper_path
from .layout import test_path
from .merge import merge3
from .model import Project
from .plan import Plan, confine
from .pyproject_edit import edit_pyproject
from .record import RECORD, Answers, Record, plugin_versions, put, read_record, recordable
from .registry import Registry, add_registration, new_registry, remove_registration
from .scaffold import build_context, plugin_requirement, project_files
from .table_spec import add_metadata, spec_from_record

# What --dry-run prints for a file, and what each word means.
STATUS = {
    "unchanged": "the file stays as it is (polster's text did not change, or only you changed it)",
    "update": "polster's text changed and you did not touch the file: it takes the new text",
    "merge": "both changed, on different lines: merged",
    "conflict": "both changed the same lines: conflict blocks written into the file",
    "add": "a new file polster now generates",
    "remove": "polster no longer generates it and you never changed it: deleted",
    "kept": "polster changed or dropped it, but you changed or deleted it: left as you have it",
    "differs": "no record to merge from: yours kept (polster's version offered, not applied)",
}
EXIT_CONFLICTS = 4
_REGISTRY = re.compile(r"src/orchestration/assets/[a-z]+/__init__\.py")


@dataclass
class Change:
    rel: str
    status: str
    note: str = ""


@dataclass
class Upgrade:
    plan: Plan
    changes: list[Change] = field(default_factory=list)
    from_version: str = ""
    to_version: str = __version__
    plugin_changes: list[str] = field(default_factory=list)
    has_record: bool = True
    two_way: bool = False

    @property
    def conflicts(self) -> list[str]:
        return [c.rel for c in self.changes if c.status == "conflict"]


def generate(project: Project, answers: Answers, plugins) -> dict[str, str]:
    """Every file polster generates for ``answers`` with the installed plugins (not ``.env``):
    init's files, less the removed examples, plus each recorded asset as add-asset renders it."""

    executor = str(project.config.get("executor", ""))
    context = build_context(
        answers.name, plugins, answers.storage, answers.platform, executor=executor
    )
    for other in answers.other_platforms:  # enabled earlier: their plugins stay in dev too
        requirement = plugin_requirement(plugins.ci_platform(other).plugin)
        if requirement and requirement not in context.dev_dependencies:
            context.dev_dependencies.insert(len(context.dev_dependencies) - 1, requirement)
    files = recordable(project_files(context, plugins))
    if executor and "pyproject.toml" in files:  # `polster enable celery` set it
        import tomlkit

        doc = tomlkit.parse(files["pyproject.toml"])
        doc.setdefault("tool", tomlkit.table()).setdefault("polster", tomlkit.table())
        doc["tool"]["polster"]["executor"] = executor
        files["pyproject.toml"] = tomlkit.dumps(doc)
    for other in answers.other_platforms:
        platform = plugins.ci_platform(other)
        for rel, text in platform.render(context).items():
            files.setdefault(rel, text)
    width = line_length(project)
    for key in answers.removed:
        _, layer, name = key.split("_", 2)
        files.pop(core_path(layer, name), None)
        files.pop(wrapper_path(layer, name), None)
        files.pop(test_path(layer, name), None)
        if registry_path(layer) in files:
            files[registry_path(layer)] = remove_registration(
                files[registry_path(layer)], key, width
            )
    templates = plugins.asset_templates()
    for asset in answers.assets:
        layer, name = asset["layer"], asset["name"]
        key = f"run_{layer}_{name}"
        spec = templates.get(asset["template"])
        if spec is None or not hasattr(spec, "render_core"):
            raise PolsterError(
                f"asset {key} was made with the asset template '{asset['template']}', which is "
                "not installed (or is offered twice): install its plugin, then upgrade again"
            )
        ctx = AssetContext(
            answers.name,
            layer,
            name,
            tuple(asset.get("deps", ())),
            partitions=asset.get("partitions", "none"),
            start=asset.get("start", ""),
            partitioned_upstream=tuple(asset.get("partitioned_upstream", ())),
        )
        files[core_path(layer, name)] = spec.render_core(ctx)
        files[wrapper_path(layer, name)] = spec.render_wrapper(ctx)
        if spec_from_record(asset) is not None:
            files[wrapper_path(layer, name)] = add_metadata(
                files[wrapper_path(layer, name)], key, spec_from_record(asset)
            )
        reg = registry_path(layer)
        files[reg] = (
            add_registration(files[reg], key, width)
            if reg in files
            else new_registry(layer, answers.name, [key], width)
        )
        settings = list(spec.settings(ctx)) if spec.settings else []
        if settings and ".env.example" in files:
            files[".env.example"] = add_settings_block(files[".env.example"], key, spec, settings)
        if spec.requirements and "pyproject.toml" in files:
            edited = edit_pyproject(files["pyproject.toml"], spec.requirements)
            if edited is not None:
                files["pyproject.toml"] = edited
    return files


def answers_without_record(project: Project) -> Answers:
    """The answers of a project made before polster recorded them: its ``[tool.polster]``;
    an example asset whose wrapper is gone counts as removed."""
    removed = [
        f"run_{layer}_example"
        for layer in LAYERS
        if not (project.root / wrapper_path(layer, "example")).exists()
    ]
    return Answers(project.name, project.storage, project.platform, removed=removed)


def upgrade_plan(
    project: Project, plugins, choose: Callable[[str, str | None, str], bool] | None = None
) -> Upgrade:
    """Plan the upgrade of ``project``; ``choose(rel, yours, new)`` answers the two-way
    question of a project without a record (None: keep yours)."""
    record = read_record(project.root)
    plan = Plan(project.root)
    result = Upgrade(plan)
    if record is not None:
        for rel in record.files:  # a teammate's record names only files of this project
            confine(project.root, rel, RECORD)
        answers = record.answers
        base: dict[str, str] | None = record.files
        result.from_version = record.polster_version
        old_plugins = record.plugins
    else:
        result.has_record = False
        answers = answers_without_record(project)
        result.from_version = str(project.config.get("polster_version", "unknown"))
        old_plugins = {}
        base = generate(project, answers, plugins) if result.from_version == __version__ else None
        result.two_way = base is None
    new = generate(project, answers, plugins)
    versions = plugin_versions(plugins)
    for dist in sorted(set(old_plugins) | set(versions)):
        before, after = old_plugins.get(dist, "-"), versions.get(dist, "-")
        if before != after and (dist in old_plugins or record is not None):
            result.plugin_changes.append(f"{dist} {before} -> {after}")
    if base is None:
        _two_way(project, new, result, choose)
    else:
        _three_way(project, base, new, result)
    if not any(c.status == "differs" for c in result.changes):
        # Written once every file is settled: a file left "differs" is asked about again.
        put(plan, Record(answers, new, __version__, versions))
    return result


def _read(path: Path) -> str | None:
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


def _three_way(project: Project, base: dict, new: dict, result: Upgrade) -> None:
    plan = result.plan
    base_label = f"generated by polster {result.from_version}"
    new_label = f"polster {__version__}"
    for rel in sorted(set(base) | set(new)):
        b, n = base.get(rel), new.get(rel)
        cur = _read(project.root / rel)
        if n is None:  # the template dropped it
            if cur is None:
                continue
            if cur == b:
                plan.delete(rel)
                result.changes.append(Change(rel, "remove"))
            else:
                result.changes.append(Change(rel, "kept", f"polster {__version__} dropped it"))
            continue
        if cur is None:
            if b is None:
                plan.create(rel, n, executable=rel == "run_polster.py")
                result.changes.append(Change(rel, "add"))
            elif n != b:
                result.changes.append(Change(rel, "kept", "you deleted it; polster changed it"))
            continue
        if cur == n or n == b:
            result.changes.append(Change(rel, "unchanged"))
            continue
        if cur == b:
            plan.update(rel, n)
            result.changes.append(Change(rel, "update"))
            continue
        merged = merge3(b or "", cur, n, base_label, new_label)
        text, status, note = merged.text, "conflict" if merged.conflicts else "merge", ""
        if _REGISTRY.fullmatch(rel):
            text, status, note = _registry(project, b or "", cur, n, merged)
        if text != cur:
            plan.update(rel, text)
        elif status == "merge":
            status = "unchanged"
        result.changes.append(Change(rel, status, note))


def _registry(project: Project, base: str, cur: str, new: str, merged):
    """A registry merged on text when that keeps every registration, else on structure."""

    b, c, n = (Registry.parse(t) for t in (base, cur, new))
    if c.error:
        return cur, "kept", f"it has a {c.error}: fix it, then upgrade again"
    expected = (set(c.names) | (set(n.names) - set(b.names))) - (set(b.names) - set(n.names))
    if not merged.conflicts:
        m = Registry.parse(merged.text)
        listed = m.all_names is None or set(m.all_names) >= expected
        if not m.error and set(m.names) == expected and listed:
            return merged.text, "merge", ""
    text = cur
    width = line_length(project)
    try:
        for key in sorted(set(n.names) - set(b.names) - set(c.names)):
            text = add_registration(text, key, width)
        for key in sorted((set(b.names) - set(n.names)) & set(c.names)):
            text = remove_registration(text, key, width)
    except PolsterError as exc:
        return cur, "kept", str(exc)
    note = "" if text == cur else "registrations updated; the rest of the file is yours"
    return text, "merge", note


def _two_way(project: Project, new: dict, result: Upgrade, choose) -> None:
    plan = result.plan
    for rel, n in sorted(new.items()):
        cur = _read(project.root / rel)
        if cur == n:
            result.changes.append(Change(rel, "unchanged"))
            continue
        if cur is not None and _REGISTRY.fullmatch(rel):
            result.changes.append(Change(rel, "kept", "registrations are left as you have them"))
            continue
        if choose is not None and choose(rel, cur, n):
            if cur is None:
                plan.create(rel, n, executable=rel == "run_polster.py")
                result.changes.append(Change(rel, "add"))
            else:
                plan.update(rel, n)
                result.changes.append(Change(rel, "update"))
        else:
            note = "missing here" if cur is None else ""
            result.changes.append(Change(rel, "differs", note))


__all__ = ["EXIT_CONFLICTS", "RECORD", "STATUS", "Upgrade", "generate", "upgrade_plan"]
