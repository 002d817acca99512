"""Finding and importing the third-party plugins: the entry points of the group ``polster``.

Read from the ``*.dist-info`` / ``*.egg-info`` folders on ``sys.path`` the way
``importlib.metadata.entry_points(group="polster")`` reads them (the first distribution of a
name on the path wins), without importing ``importlib.metadata``: that import alone (email,
zipfile, csv) was the largest part of what ``polster --help`` costs beyond typer's own start.
Only a zip archive on ``sys.path`` is read with ``importlib.metadata``.

:func:`load_entry_points` imports each plugin on its own: one that fails to import is named on
stderr in one line and skipped, so a broken plugin never takes the CLI down with it. Nothing
is kept between calls: a plugin installed meanwhile (``polster enable``) or a path changed
(tests) is seen by the next call. ``polster --help`` calls only this (it names a broken
plugin as every command does); the plugin manager (:mod:`.manager`) registers what it returns.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from functools import reduce
from typing import Any

ENTRY_POINT_GROUP = "polster"
DISABLE_AUTOLOAD_ENV = "POLSTER_DISABLE_PLUGIN_AUTOLOAD"

DEFAULT_PLUGINS = (
    "polster_core.builtin.local_storage",
    "polster_core.builtin.asset_templates",
    "polster_core.builtin.bronze_templates",
    "polster_core.builtin.project_template",
    "polster_core.builtin.executors",
)
# The names the built-ins are registered under: an entry point may not take one.
BUILTIN_NAMES = tuple(module.rsplit(".", 1)[-1] for module in DEFAULT_PLUGINS)

# importlib.metadata's EntryPoint.pattern: ``module``, ``module:attr.attr``, ``[extras]``.
VALUE_PATTERN = r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"

# Plain classes, not dataclasses: making a dataclass costs about half a millisecond, and this
# module is loaded by every `polster --help`.


class EntryPoint:
    """One entry point of the group, and the distribution that declares it."""

    def __init__(self, name: str, value: str, distribution: str, version: str):
        self.name = name
        self.value = value  # "module" or "module:attr"
        self.distribution = distribution  # its Name, e.g. "polster-s3" ("?": unreadable)
        self.version = version

    def __repr__(self) -> str:
        return f"EntryPoint({self.name!r}, {self.value!r}, {self.distribution!r})"

    def load(self) -> Any:
        match = re.match(VALUE_PATTERN, self.value)
        if match is None:
            raise ValueError(f"entry point value {self.value!r} is not module[:attr]")
        module = importlib.import_module(match["module"])
        attrs = filter(None, (match["attr"] or "").split("."))
        return reduce(getattr, attrs, module)


class FailedPlugin:
    """A plugin whose import failed: its entry point's name, distribution and the error."""

    def __init__(self, name: str, distribution: str, error: str):
        self.name = name
        self.distribution = distribution
        self.error = error


class EntryPoints:
    """What :func:`load_entry_points` found: plugins loaded, plugins that failed, problems."""

    def __init__(self) -> None:
        self.loaded: list[tuple[EntryPoint, Any]] = []
        self.failed: list[FailedPlugin] = []
        self.problems: list[str] = []


def autoload() -> bool:
    """Whether third-party plugins load (``POLSTER_DISABLE_PLUGIN_AUTOLOAD`` unset, 0 or false)."""
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "") in ("", "0", "false")


def load_entry_points() -> EntryPoints:
    """Import every plugin of :func:`entry_points` (Python's import system keeps the modules);
    a failure is named on stderr, in one line, when it happens."""
    found = EntryPoints()
    taken = {name: "polster" for name in BUILTIN_NAMES}
    for ep in entry_points():
        if ep.name in taken:
            found.problems.append(
                f"plugin name '{ep.name}' of {ep.distribution} is already taken by "
                f"{taken[ep.name]}: {ep.distribution} was not loaded"
            )
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not break the CLI
            error = f"{type(exc).__name__}: {exc}"
            found.failed.append(FailedPlugin(ep.name, ep.distribution, error))
            print(
                f"polster: plugin '{ep.name}' ({ep.distribution}) failed to load and was "
                f"skipped: {error}",
                file=sys.stderr,
            )
            continue
        taken[ep.name] = ep.distribution
        found.loaded.append((ep, plugin))
    return found


def entry_points(group: str = ENTRY_POINT_GROUP) -> list[EntryPoint]:
    """The entry points of ``group`` of the distributions on ``sys.path``, in path order."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        folder = entry or "."
        if os.path.isdir(folder):
            for info in _metadata_folders(folder):
                key = _normalized(os.path.splitext(os.path.basename(info))[0].partition("-")[0])
                if key in seen:
                    continue
                seen.add(key)
                found += _read(info, group)
        elif os.path.isfile(folder):  # a zip archive: rare, so read it the standard (slower) way
            found += _from_archive(entry, group, seen)
    return found


def _metadata_folders(folder: str) -> list[str]:
    """The metadata folders in ``folder``, by name (os.scandir: no stat for most entries)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(
                entry.path
                for entry in entries
                if entry.name.lower().endswith((".dist-info", ".egg-info")) and entry.is_dir()
            )
    except OSError:
        return []


def _normalized(name: str) -> str:
    """importlib.metadata's Prepared.normalize: PEP 503, with underscores."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _read(info: str, group: str) -> list[EntryPoint]:
    try:
        with open(os.path.join(info, "entry_points.txt"), encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return []
    if f"[{group}]" not in text:
        return []
    pairs = _section(text, group)
    if not pairs:
        return []
    name, version = _name_and_version(info)
    return [EntryPoint(key, value, name, version) for key, value in pairs]


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` lines of ``[group]`` in an entry_points.txt (an INI file)."""
    pairs, current = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line.strip("[]")
        elif current == group and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            pairs.append((key, value))
    return pairs


def _name_and_version(info: str) -> tuple[str, str]:
    """Name and Version from the headers of METADATA (PKG-INFO for an egg-info)."""
    fields = {"name": "?", "version": "?"}
    for file in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info, file), encoding="utf-8") as handle:
                for line in handle:
                    if not line.strip():
                        break
                    key, _, value = line.partition(":")
                    if key.lower() in fields and fields[key.lower()] == "?":
                        fields[key.lower()] = value.strip()
        except (OSError, UnicodeDecodeError):
            continue
        break
    return fields["name"], fields["version"]


def _from_archive(entry: str, group: str, seen: set[str]) -> list[EntryPoint]:
    # importlib.metadata costs about 15 ms to import; only a zip archive on sys.path needs it.
    # lazy: a zip archive on sys.path is rare, and importlib.metadata slow to import
    from importlib.metadata import distributions

    found = []
    for dist in distributions(path=[entry]):
        key = _normalized(dist.metadata["Name"] or "")
        if key in seen:
            continue
        seen.add(key)
        found += [
            EntryPoint(ep.name, ep.value, dist.metadata["Name"] or "?", dist.version or "?")
            for ep in dist.entry_points
            if ep.group == group
        ]
    return found
