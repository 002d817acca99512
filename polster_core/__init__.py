"""Polster: scaffold and grow Dagster + Polars projects in the medallion layout."""

__version__ = "0.1.1"

LAYERS = ("bronze", "silver", "gold")

__all__ = ["LAYERS", "__version__", "hookimpl"]


def __getattr__(name):
    # ``from polster_core import hookimpl`` for plugins, without importing pluggy at CLI start.
    if name == "hookimpl":
        from .plugin_system.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'polster_core' has no attribute {name!r}")
