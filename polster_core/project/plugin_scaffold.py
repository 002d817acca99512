"""``polster plugin new KIND NAME``: a new plugin distribution, ready to install and test.

Each kind is one :class:`PluginKind` in :data:`KINDS` and one folder of jinja2 templates,
``templates/plugin/KIND/`` (beside ``templates/plugin/common/``, shared by every kind). Adding a
kind (an executor, say) is one entry here and one folder there. In template paths, ``MODULE``
becomes the plugin's module (``polster_myfs``), ``NAME`` its name, ``dot_`` a leading dot.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..exceptions import PolsterError
from .plan import Plan, recover_folder

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")
MAX_PLUGIN_NAME = 20
# Names a plugin module must not take: polster_core itself, and the test helpers' names.
RESERVED_NAMES = {"core", "testing", "plugin", "plugins"}


@dataclass(frozen=True)
class PluginKind:
    """What ``polster plugin new`` needs to know about one kind of plugin."""

    name: str  # what users type: `polster plugin new storage ...`
    what: str  # how messages call what the plugin registers
    hook: str  # the registration hook the plugin implements
    registry: str  # the Plugins method listing what is registered of this kind
    known: str = ""  # key of plugins.KNOWN_PLUGINS: names of plugins Polster publishes
    # The plugin's own dependencies, and the extra ones its tests need (its `test` extra). A
    # bare name takes polster's own range for it (:func:`with_ranges`).
    requirements: tuple[str, ...] = ()
    test_requirements: tuple[str, ...] = ()
    # How to try it in a project once installed ({name} is filled in).
    try_it: tuple[str, ...] = ()


KINDS = {
    kind.name: kind
    for kind in (
        PluginKind(
            "storage",
            "storage backend",
            "polster_storage_backends",
            "storage_backends",
            known="storage",
            requirements=("fsspec>=2023.1", "polars"),
            try_it=("polster init demo --storage {name} --no-setup",),
        ),
        PluginKind(
            "ci",
            "CI platform",
            "polster_ci_platforms",
            "ci_platforms",
            known="platform",
            test_requirements=("check-jsonschema>=0.29", "pyyaml>=6"),
            try_it=("polster init demo --platform {name} --no-setup",),
        ),
        PluginKind(
            "template",
            "asset template",
            "polster_asset_templates",
            "asset_templates",
            test_requirements=("polars", "python-dotenv", "ruff>=0.6"),
            try_it=(
                "polster init demo --no-setup",
                "cd demo && polster add-asset --layer bronze --name orders --template {name}",
            ),
        ),
        PluginKind(
            "executor",
            "executor",
            "polster_executors",
            "executors",
            known="executor",
            requirements=("dagster",),
            # What a generated project's pipeline needs to run in the plugin's tests.
            test_requirements=(
                "dagster-webserver",
                "polars",
                "pyarrow",
                "python-dotenv",
                "requests",
            ),
            try_it=(
                "polster init demo",
                "cd demo && python run_polster.py --executor {name} --workers 2",
            ),
        ),
    )
}


@dataclass(frozen=True)
class NewPlugin:
    """The plan of a new plugin and what to tell its author."""

    kind: PluginKind
    name: str
    dist: str
    module: str
    target: Path
    plan: Plan


def with_ranges(requirements: tuple[str, ...]) -> list[str]:
    """``requirements`` with each bare name given polster's own range for it, from its
    ``runtime`` extra (what every generated project depends on): ``polars`` ->
    ``polars>=1.35``. One home for those ranges, so that a new plugin asks for the Dagster and
    polars the projects it runs in have. A name polster does not declare stays bare."""
    # lazy: scaffold (importlib.metadata) and pyproject_edit (tomllib) are not for CLI start
    from .pyproject_edit import requirement_name
    from .scaffold import runtime_requirements

    ranges = {requirement_name(r): r for r in runtime_requirements()}
    return [ranges.get(r, r) if r == requirement_name(r) else r for r in requirements]


def plugin_kind(kind: str) -> PluginKind:
    found = KINDS.get(kind.strip().lower())
    if found is None:
        raise PolsterError(f"unknown plugin kind '{kind}': choose one of {', '.join(KINDS)}")
    return found


def validate_plugin_name(kind: PluginKind, name: str, plugins) -> str:
    """``name`` if it can be the plugin's entry point, registered name and module suffix."""
    name = name.strip()
    if len(name) > MAX_PLUGIN_NAME:
        raise PolsterError(
            f"plugin name '{name[:20]}...' is too long: use at most {MAX_PLUGIN_NAME} characters"
        )
    if not PLUGIN_NAME.match(name):
        raise PolsterError(
            f"'{name}' is not a plugin name: use lower-case letters and digits, separated by "
            "single '-' or '_', starting with a letter (e.g. myfs)"
        )
    module = module_name(name)
    if keyword.iskeyword(name.replace("-", "_")) or name.replace("-", "_") in RESERVED_NAMES:
        raise PolsterError(f"'{name}' is reserved: {module} would shadow Polster's own modules")
    from ..plugin_system.manager import KNOWN_PLUGINS

    registered = getattr(plugins, kind.registry)()
    if name in registered:
        offered_by = getattr(registered[name], "plugin", "") or "polster (built-in)"
        raise PolsterError(
            f"{kind.what} '{name}' already exists ({offered_by}): choose another name"
        )
    published = KNOWN_PLUGINS.get(kind.known, {}).get(name)
    if published:
        raise PolsterError(
            f"{kind.what} '{name}' is the name of {published}, published by Polster: "
            "choose another name"
        )
    if name in plugins.info:
        raise PolsterError(
            f"plugin name '{name}' is taken by {plugins.info[name].distribution} "
            f"({plugins.info[name].module}): choose another name"
        )
    from importlib.util import find_spec

    if find_spec(module) is not None:
        raise PolsterError(f"a module {module} is installed already: choose another name")
    return name


def module_name(name: str) -> str:
    return "polster_" + name.replace("-", "_")


def dist_name(name: str) -> str:
    return "polster-" + name.replace("_", "-")


def check_target(target: Path) -> None:

    recover_folder(target)  # a `plugin new` a kill cut short: finished or undone first
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise PolsterError(
            f"{target} already exists and is not empty: choose another --path or name"
        )


def template_files(kind: str) -> list[tuple[str, str]]:
    """``(template name, output path with placeholders)`` of a kind's files, common ones first."""
    from .render import TEMPLATES

    found = []
    for folder in ("common", kind):
        base = TEMPLATES / "plugin" / folder
        for path in sorted(base.rglob("*.j2")):
            rel = path.relative_to(base).as_posix()
            parts = [("." + p[4:]) if p.startswith("dot_") else p for p in rel[:-3].split("/")]
            found.append((f"plugin/{folder}/{rel}", "/".join(parts)))
    return found


def new_plugin_plan(kind_name: str, name: str, parent: Path, plugins) -> NewPlugin:
    """Everything ``polster plugin new`` writes, as a plan (nothing is touched yet)."""
    from .render import render

    kind = plugin_kind(kind_name)
    name = validate_plugin_name(kind, name, plugins)
    module, dist = module_name(name), dist_name(name)
    target = parent / dist
    check_target(target)
    context = {
        "kind": kind.name,
        "what": kind.what,
        "hook": kind.hook,
        "name": name,
        "module": module,
        "dist": dist,
        "env_prefix": name.upper().replace("-", "_"),
        "class_name": "".join(part.capitalize() for part in re.split(r"[-_]", name)),
        "polster_version": __version__,
        "requirements": with_ranges(kind.requirements),
        "test_requirements": with_ranges(kind.test_requirements),
        "try_it": [line.format(name=name) for line in kind.try_it],
    }
    plan = Plan(target)
    for template, out in template_files(kind.name):
        rel = out.replace("MODULE", module).replace("NAME", name.replace("-", "_"))
        plan.create(rel, render(template, **context))
    return NewPlugin(kind, name, dist, module, target, plan)
