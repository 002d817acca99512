"""The assets of a project as they are on disk, their dependencies, and the rules they follow.

The orchestration files are the source of truth: an asset is a wrapper file
``src/orchestration/assets/{layer}/run_{layer}_{name}.py`` or a registration of one in that
layer's ``__init__.py``; its upstream assets are the parameters of its ``@dg.asset`` function
(plus ``deps=[...]`` and ``ins={...}``), read with :mod:`ast`. Hand edits count. Nothing here
imports Dagster or polars.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import LAYERS
from .asset_source import CORE_DIR, asset_function, core_imports, defined_names, upstream_of
from .layout import (
    ASSETS_DIR,
    UPSTREAM_LAYERS,
    allowed_layers,
    broken_rule,
    core_path,
    registry_path,
    wrapper_path,
)
from .names import asset_key, asset_name_problem, split_asset_key
from .partition_mapping import partition_problems
from .partition_specs import partitioning_of
from .registry import Registry, natural_key


@dataclass
class Problem:
    """One thing ``polster check`` reports: where, and what is wrong (with what to do)."""

    path: str
    message: str
    # What kind of problem, for `polster check --json` and the run's own checks: "layer-rule",
    # "unregistered", "cycle", "missing-file", "registry", "naming", "dependency",
    # "partitions", "conflict", "definitions", "config" or "project".
    rule: str = "project"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def as_dict(self) -> dict:
        """``{"file", "line", "rule", "problem", "fix"}``: the fix is what a message says after
        its last ``": "`` (each says what is wrong, then what to do)."""
        file, _, line = self.path.partition(":")
        what, sep, fix = self.message.rpartition(": ")
        return {
            "file": file,
            "line": int(line) if line.isdigit() else None,
            "rule": self.rule,
            "problem": self.message,
            "fix": fix if sep else None,
        }


@dataclass
class Asset:
    key: str
    layer: str
    name: str
    wrapper: str | None = None  # relative path, when the file exists
    core: str | None = None  # relative path, when the file exists
    registered: bool = False
    upstream: list[str] = field(default_factory=list)
    downstream: list[str] = field(default_factory=list)
    function: str | None = None  # the @asset function found in the wrapper
    partitions: str = "none"  # daily, hourly, weekly, monthly, none or custom (partitions_def)
    partitions_start: str = ""
    partitioning: Any = None  # the Partitioning read off the wrapper (partition_specs)
    error: str | None = None  # why the wrapper could not be read
    # ``from core.X import a, b`` in the wrapper: (module path relative to the root, names, line)
    core_imports: list[tuple[str, list[str], int]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "layer": self.layer,
            "name": self.name,
            "core": self.core,
            "wrapper": self.wrapper,
            "registered": self.registered,
            "upstream": self.upstream,
            "downstream": self.downstream,
            "partitions": self.partitions,
            "partitions_start": self.partitions_start,
        }


class ProjectAssets:
    """Every asset of the project at ``root``, read from its files.

    Listing files and reading the registries is cheap; the wrappers are parsed (for
    dependencies) only when :meth:`load_dependencies` is called.
    """

    def __init__(self, root: Path, allow_same_layer: bool = False):
        self.root = Path(root)
        self.allow_same_layer = allow_same_layer
        self.assets: dict[str, Asset] = {}
        self.registries: dict[str, Registry | None] = {}
        self.stray: list[Problem] = []  # files that break the naming conventions
        self.orphan_cores: list[str] = []  # core files without a wrapper or registration
        self._dependencies_loaded = False
        for layer in LAYERS:
            self._scan_layer(layer)
        self._scan_core()

    # Reading -------------------------------------------------------------------------------

    def _asset(self, layer: str, name: str) -> Asset:
        key = asset_key(layer, name)
        if key not in self.assets:
            self.assets[key] = Asset(key, layer, name)
        return self.assets[key]

    def _scan_layer(self, layer: str) -> None:
        directory = self.root / ASSETS_DIR / layer
        try:
            entries = sorted(os.listdir(directory))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if not entry.endswith(".py") or entry == "__init__.py" or not entry.startswith("run_"):
                continue
            stem = entry[:-3]
            parts = split_asset_key(stem)
            rel = f"{ASSETS_DIR}/{layer}/{entry}"
            if parts is None or parts[0] != layer or asset_name_problem(parts[1]):
                self.stray.append(Problem(rel, _naming_hint(stem, layer), "naming"))
                continue
            self._asset(layer, parts[1]).wrapper = rel
        init = directory / "__init__.py"
        if init.is_file():
            registry = Registry.parse(init.read_text(encoding="utf-8"))
            self.registries[layer] = registry
            for registration in registry.registrations:
                parts = split_asset_key(registration.name)
                if parts and parts[0] == layer and not asset_name_problem(parts[1]):
                    self._asset(layer, parts[1]).registered = True
        else:
            self.registries[layer] = None

    def _scan_core(self) -> None:
        try:
            entries = sorted(os.listdir(self.root / CORE_DIR))
        except FileNotFoundError:
            return
        for entry in entries:
            if not entry.endswith(".py"):
                continue
            layer, _, name = entry[:-3].partition("_")
            if layer not in LAYERS or not name:
                continue
            key = asset_key(layer, name)
            rel = f"{CORE_DIR}/{entry}"
            if not (self.root / rel).is_file():
                what = "a directory" if (self.root / rel).is_dir() else "not a regular file"
                self.stray.append(
                    Problem(rel, f"is {what}: replace it with the core module", "missing-file")
                )
                if key in self.assets:
                    self.assets[key].core = rel  # present, if broken: reported once, here
                continue
            if key in self.assets:
                self.assets[key].core = rel
            else:
                self.orphan_cores.append(rel)

    def load_dependencies(self) -> None:
        """Parse every wrapper for its upstream assets and fill in the downstream ones."""
        if self._dependencies_loaded:
            return
        for asset in self.assets.values():
            if asset.wrapper:
                self._read_wrapper(asset)
        for asset in self.assets.values():
            for up in asset.upstream:
                if up in self.assets:
                    self.assets[up].downstream.append(asset.key)
        for asset in self.assets.values():
            asset.downstream.sort(key=natural_key)
        self._dependencies_loaded = True

    def _read_wrapper(self, asset: Asset) -> None:
        path = self.root / asset.wrapper
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except SyntaxError as exc:
            asset.error = f"syntax error on line {exc.lineno}: {exc.msg}"
            return
        except (OSError, ValueError) as exc:
            asset.error = f"cannot read it: {exc}"
            return
        function = asset_function(tree, asset.key)
        if function is None:
            asset.error = f"defines no @dg.asset function named {asset.key}"
            return
        asset.function = function.name
        asset.upstream = upstream_of(function)
        asset.core_imports = core_imports(tree)

        partitioning = partitioning_of(function, tree)
        asset.partitions, asset.partitions_start = partitioning.kind, partitioning.start
        asset.partitioning = partitioning

    # Questions -----------------------------------------------------------------------------

    def sorted_assets(self) -> list[Asset]:
        order = {layer: i for i, layer in enumerate(LAYERS)}
        return sorted(self.assets.values(), key=lambda a: (order[a.layer], natural_key(a.name)))

    def in_layers(self, layers: tuple[str, ...]) -> list[Asset]:
        return [a for a in self.sorted_assets() if a.layer in layers]

    def problems(self) -> list[Problem]:
        """Everything ``polster check`` reports, in a stable order."""
        self.load_dependencies()
        found: list[Problem] = list(self.stray)
        for layer in LAYERS:
            found.extend(self._registry_problems(layer))
        for rel in self.orphan_cores:
            found.append(
                Problem(
                    rel,
                    "core file without an asset wrapper: add the wrapper "
                    "(see AGENTS.md) or delete the file",
                    "missing-file",
                )
            )
        for asset in self.sorted_assets():
            found.extend(self._asset_problems(asset))
        for cycle in self.cycles():
            first = self.assets[cycle[0]]
            found.append(
                Problem(
                    first.wrapper or registry_path(first.layer),
                    "dependency cycle: "
                    + " -> ".join([*cycle, cycle[0]])
                    + ": remove one of these dependencies",
                    "cycle",
                )
            )
        return found

    def _registry_problems(self, layer: str) -> list[Problem]:
        rel = registry_path(layer)
        registry = self.registries.get(layer)
        if registry is None:
            if (self.root / ASSETS_DIR / layer).is_dir():
                return [Problem(rel, "missing: the layer's assets are not loaded", "registry")]
            return [Problem(f"{ASSETS_DIR}/{layer}", "missing layer package", "missing-file")]
        if registry.error:
            return [Problem(rel, registry.error, "registry")]
        found = []
        seen: set[str] = set()
        for registration in registry.registrations:
            name = registration.name
            if name in seen:
                found.append(Problem(rel, f"{name} is imported twice: remove one import"))
            seen.add(name)
            parts = split_asset_key(name)
            if parts is None or parts[0] != layer or asset_name_problem(parts[1]):
                found.append(
                    Problem(
                        rel,
                        f"registers {name}, which is not a {layer} asset name "
                        f"(run_{layer}_{{name}})",
                    )
                )
                continue
            if not registry.is_conventional(registration):
                found.append(
                    Problem(
                        rel,
                        f"registers {name} unconventionally: write `from .{name} import {name}`",
                    )
                )
            if not (self.root / wrapper_path(layer, parts[1])).is_file():
                found.append(
                    Problem(
                        rel,
                        f"registers {name}, but {wrapper_path(layer, parts[1])} does not exist: "
                        "remove the registration or restore the file",
                    )
                )
        if registry.all_is_dynamic:
            found.append(Problem(rel, "`__all__` is not a plain list of names"))
        elif registry.all_names is None:
            if registry.registrations:
                found.append(Problem(rel, "has no `__all__`: list the registered assets in it"))
        else:
            imported = set(registry.names)
            for name in sorted(imported - set(registry.all_names), key=natural_key):
                found.append(Problem(rel, f"{name} is imported but missing from `__all__`"))
            for name in sorted(set(registry.all_names) - imported, key=natural_key):
                found.append(Problem(rel, f"`__all__` lists {name}, which is not imported"))
        return [replace(p, rule="registry") if p.rule == "project" else p for p in found]

    def _asset_problems(self, asset: Asset) -> list[Problem]:
        found = []
        where = asset.wrapper or registry_path(asset.layer)
        if asset.wrapper and not asset.registered:
            found.append(
                Problem(
                    asset.wrapper,
                    f"not registered in {registry_path(asset.layer)}: "
                    f"add `from .{asset.key} import {asset.key}` and list it in "
                    "`__all__`",
                    "unregistered",
                )
            )
        if asset.wrapper and not asset.core:
            found.append(
                Problem(
                    asset.wrapper,
                    f"its core file {core_path(asset.layer, asset.name)} is missing",
                    "missing-file",
                )
            )
        if asset.error:
            found.append(Problem(asset.wrapper, asset.error))
            return found
        if asset.wrapper is None:
            return found  # registration without a file: reported with the registry
        found.extend(self._import_problems(asset))
        allowed = allowed_layers(asset.layer, self.allow_same_layer)
        for up in asset.upstream:
            parts = split_asset_key(up)
            if up == asset.key:
                found.append(Problem(where, f"{asset.key} depends on itself", "cycle"))
            elif up not in self.assets:
                found.append(
                    Problem(
                        where,
                        f"depends on {up}, which does not exist: add it, or remove the parameter",
                        "dependency",
                    )
                )
            elif parts and parts[0] not in allowed:
                why = broken_rule(asset.layer, parts[0], self.allow_same_layer)
                found.append(Problem(where, f"depends on {up}: {why}", "layer-rule"))
        found.extend(Problem(where, p, "partitions") for p in partition_problems(self, asset))
        if asset.layer != "bronze" and not asset.upstream:
            found.append(
                Problem(
                    where,
                    f"has no upstream assets: {asset.layer} assets "
                    f"transform {UPSTREAM_LAYERS[asset.layer][0]} data",
                    "dependency",
                )
            )
        return found

    def _import_problems(self, asset: Asset) -> list[Problem]:
        """Names the wrapper imports from a core file that the file does not define.

        Caught here, before a run, instead of as an ImportError when Dagster loads.
        """
        found = []
        for rel, names, line in asset.core_imports:
            defined = defined_names(self.root / rel)
            if defined is None:
                continue  # missing (reported above), unreadable, or defined dynamically
            for name in names:
                if name not in defined:
                    found.append(
                        Problem(
                            asset.wrapper,
                            f"line {line} imports {name} from {rel}, which no longer defines "
                            f"it: define {name} in {rel}, or remove it from the import",
                            "dependency",
                        )
                    )
        return found

    def cycles(self) -> list[list[str]]:
        """Each dependency cycle once, as the asset keys along it (Tarjan's algorithm)."""
        self.load_dependencies()
        graph = {k: [u for u in a.upstream if u in self.assets] for k, a in self.assets.items()}
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []
        counter = 0
        for start in sorted(graph, key=natural_key):
            if start in index:
                continue
            work = [(start, 0)]
            while work:
                node, i = work.pop()
                if i == 0:
                    index[node] = low[node] = counter
                    counter += 1
                    stack.append(node)
                    on_stack.add(node)
                recurse = False
                edges = graph[node]
                while i < len(edges):
                    nxt = edges[i]
                    i += 1
                    if nxt not in index:
                        work.append((node, i))
                        work.append((nxt, 0))
                        recurse = True
                        break
                    if nxt in on_stack:
                        low[node] = min(low[node], index[nxt])
                if recurse:
                    continue
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(_cycle_path(component, graph))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
        return sorted(found)


def _cycle_path(component: list[str], graph: dict[str, list[str]]) -> list[str]:
    """A readable cycle through a strongly connected component, from its smallest key."""
    members = set(component)
    start = min(component, key=natural_key)
    path = [start]
    current = start
    while True:
        options = sorted((u for u in graph[current] if u in members), key=natural_key)
        nxt = next((u for u in options if u not in path), None)
        if nxt is None:
            return path
        path.append(nxt)
        current = nxt


def _naming_hint(stem: str, layer: str) -> str:
    parts = split_asset_key(stem)
    if parts and parts[0] != layer:
        return f"a {parts[0]} asset in the {layer} layer: move it to {ASSETS_DIR}/{parts[0]}/"
    return (
        f"not a valid asset file name: use run_{layer}_{{name}}.py with a lowercase name "
        "(letters, digits, '_')"
    )
