"""The plugin manager: built-in plugins plus entry points of the group ``polster``.

Built-ins are registered with the same call a third-party plugin gets. Entry points are loaded
once, lazily, each on its own: one that fails to import is named on stderr and skipped, so a
broken plugin never takes the CLI down with it.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .. import __version__
from ..exceptions import PolsterError
from ..project.hints import install_command
from . import hookspecs
from .discovery import (
    DEFAULT_PLUGINS,
    DISABLE_AUTOLOAD_ENV,
    ENTRY_POINT_GROUP,
    FailedPlugin,
    load_entry_points,
)
from .discovery import autoload as autoload_enabled
from .specs import AssetTemplate, CIPlatform, Executor, StorageBackend

__all__ = ["DEFAULT_PLUGINS", "DISABLE_AUTOLOAD_ENV", "ENTRY_POINT_GROUP", "FailedPlugin"]

# Plugins we publish, so an error can say what to install.
KNOWN_PLUGINS = {
    "storage": {"adls": "polster-adls", "s3": "polster-s3"},
    "executor": {"celery": "polster-celery"},
    "platform": {
        "github": "polster-github",
        "gitlab": "polster-gitlab",
        "azure-devops": "polster-azdo",
        "azdo": "polster-azdo",
    },
}


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str  # "builtin" or "entry point"
    distribution: str
    module: str
    hooks: list[str] = field(default_factory=list)


class Plugins:
    """The loaded plugins and the registries built from their hooks."""

    def __init__(self, autoload: bool | None = None):
        self.pm = pluggy.PluginManager("polster")
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.failed: list[FailedPlugin] = []
        # Other names an offered item answers to (CIPlatform.aliases): "azure-devops" -> ("azdo",)
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.problems: list[str] = []
        # plugin name -> hook name -> names it registered (for `polster plugins`)
        self.offers: dict[str, dict[str, list[str]]] = {}

        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            short = module_name.rsplit(".", 1)[-1]
            self._register(module, short, __version__, "builtin", "polster", module_name)
        if autoload is None:
            autoload = autoload_enabled()
        if autoload:
            found = load_entry_points()
            for ep, plugin in found.loaded:
                dist = ep.distribution
                self._register(plugin, ep.name, ep.version, "entry point", dist, ep.value)
            self.failed += found.failed
            self.problems += found.problems
        self.pm.check_pending()
        self._registries: dict[str, Any] = {}

    def _register(self, plugin, name, version, source, dist, module_name):
        self.pm.register(plugin, name=name)
        hooks = sorted(impl_name for impl_name in dir(plugin) if impl_name.startswith("polster_"))
        self.info[name] = PluginInfo(name, version, source, dist, module_name, hooks)

    # Registries ---------------------------------------------------------------------------

    def _collect(self, hook_name: str, kind: str) -> dict[str, Any]:
        """Call a ``register`` hook plugin by plugin; remember who offered what."""
        if hook_name in self._registries:
            return self._registries[hook_name]
        found: dict[str, Any] = {}
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: built-ins first
            plugin_name = impl.plugin_name
            dist = self.info[plugin_name].distribution if plugin_name in self.info else "?"

            def register(item, _plugin=plugin_name, _dist=dist):
                names = [item.name, *getattr(item, "aliases", ())]
                self.offers.setdefault(_plugin, {}).setdefault(hook_name, []).append(item.name)
                if names[1:]:
                    self.aliases[item.name] = tuple(names[1:])
                item = _with_plugin(item, _dist)
                for name in names:
                    if name in found and found[name].plugin != _dist:
                        self.problems.append(
                            f"{kind} '{name}' is offered by both {found[name].plugin} and "
                            f"{_dist}: uninstall one of them"
                        )
                        found[name] = _Conflict(name, kind, (found[name].plugin, _dist))
                    elif not isinstance(found.get(name), _Conflict):
                        found[name] = item

            impl.function(register=register)
        self._registries[hook_name] = found
        return found

    def storage_backends(self) -> dict[str, StorageBackend]:
        return self._collect("polster_storage_backends", "storage backend")

    def ci_platforms(self) -> dict[str, CIPlatform]:
        return self._collect("polster_ci_platforms", "CI platform")

    def asset_templates(self) -> dict[str, AssetTemplate]:
        return self._collect("polster_asset_templates", "asset template")

    def executors(self) -> dict[str, Executor]:
        return self._collect("polster_executors", "executor")

    def executor(self, name: str) -> Executor:
        return self._lookup(self.executors(), name, "executor")

    def storage_backend(self, name: str) -> StorageBackend:
        return self._lookup(self.storage_backends(), name, "storage")

    def ci_platform(self, name: str) -> CIPlatform:
        return self._lookup(self.ci_platforms(), name, "platform")

    def _lookup(self, registry: dict[str, Any], name: str, kind: str):
        label = {"storage": "storage backend", "platform": "CI platform", "executor": "executor"}[
            kind
        ]
        item = registry.get(name)
        if isinstance(item, _Conflict):
            raise PolsterError(
                f"{label} '{name}' is offered by both {item.plugins[0]} and {item.plugins[1]}: "
                "uninstall one of them"
            )
        if item is not None:
            return item
        installed = ", ".join(sorted(registry)) or "none"
        known = KNOWN_PLUGINS[kind].get(name)
        if known:
            raise PolsterError(
                f"{label} '{name}' is not installed: run `{install_command(known)}` "
                f"(installed: {installed})"
            )
        broken = [f for f in self.failed if f.name == name] or self.failed
        if broken:  # the one asked for may be the plugin that did not load: say so, and why
            first = broken[0]
            same = " (it may be the one asked for)" if first.name != name else ""
            raise PolsterError(
                f"{label} '{name}' is not available: plugin '{first.name}' ({first.distribution}) "
                f"is installed but failed to load{same}: {first.error}: fix or reinstall it "
                f"(loaded: {installed})"
            )
        raise PolsterError(f"unknown {label} '{name}': choose one of {installed}")

    def unique_names(self, registry: dict[str, Any]) -> list[str]:
        """Primary names (no aliases) of a registry, sorted."""
        return sorted(
            {name for name, item in registry.items() if name == getattr(item, "name", name)}
        )


@dataclass(frozen=True)
class _Conflict:
    name: str
    kind: str
    plugins: tuple[str, str]
    plugin: str = "(conflict)"


def _with_plugin(item, dist):

    if dataclasses.is_dataclass(item) and hasattr(item, "plugin") and not item.plugin:
        return dataclasses.replace(item, plugin=dist)
    return item


_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin manager, loaded on first use."""
    global _plugins
    if _plugins is None:
        _plugins = Plugins()
    return _plugins


def reset_plugins() -> None:
    """Forget the loaded plugins (tests use this after changing the environment)."""
    global _plugins
    _plugins = None


hookimpl = hookspecs.hookimpl
