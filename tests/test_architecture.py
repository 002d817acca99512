"""The architecture, as declared contracts on the static import graph (tests/import_graph.py).

- No import circles in polster_core or a plugin of this repository: a module's dependencies
  can be read, tested and moved without dragging in the modules that depend on it.
- What the ``polster`` CLI imports at start, with every plugin it loads (built-in and this
  repository's), never reaches Dagster, polars, pyarrow or a cloud SDK at module level:
  ``polster --help`` and the file-only commands stay light (tests/test_assets_light.py checks
  the same by running them).
- No module imports another module's private name (``from .x import _y``): what one module
  uses of another is that module's public API. (Dagster's private names are another matter:
  each is used in one boundary module, see docs.)
"""

from __future__ import annotations

import ast
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .import_graph import REPO, polster_graph

# Top-level packages the CLI must not import at start.
HEAVY = (
    "dagster",
    "dagster_celery",
    "dagster_postgres",
    "polars",
    "pyarrow",
    "deltalake",
    "dataframely",
    "pandas",
    "numpy",
    "adlfs",
    "s3fs",
    "fsspec",
    "azure",
    "boto3",
    "botocore",
    "celery",
    "kombu",
    "redis",
    "psycopg2",
    "sqlalchemy",
)


def cli_roots() -> list[str]:
    """The CLI's module and every plugin module the CLI loads (``polster_core.plugins``)."""
    tree = ast.parse((REPO / "polster_core" / "plugins.py").read_text(encoding="utf-8"))
    builtin = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", None) == "DEFAULT_PLUGINS" for t in node.targets)
    )
    entry_points = []
    for pyproject in sorted((REPO / "plugins").glob("polster_*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        group = data["project"].get("entry-points", {}).get("polster", {})
        entry_points += [value.split(":")[0] for value in group.values()]
    assert builtin and len(entry_points) >= 6, (builtin, entry_points)
    return ["polster_core.entry", "polster_core.cli", *builtin, *entry_points]


def test_no_import_circles():
    circles = polster_graph().cycles()
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_the_cli_at_start_imports_nothing_heavy():
    graph = polster_graph()
    loaded = graph.loaded_by(cli_roots())
    assert "polster_core.cli" in loaded and "typer" in loaded  # the graph is read at all
    heavy = {m: chain for m, chain in loaded.items() if m.split(".")[0] in HEAVY}
    assert not heavy, "the CLI imports at start:\n" + "\n".join(
        " -> ".join(chain) for chain in heavy.values()
    )


def test_the_contract_sees_a_heavy_import():
    """The check above can fail: a module that imports polars at module level, reached from
    the CLI, is found with the chain that brings it in."""
    graph = polster_graph()
    module = "polster_core.exceptions"
    graph.imports[module] = [*graph.imports[module]]
    from .import_graph import Import

    graph.imports[module].append(Import("polars", 1, True, (), ""))
    loaded = graph.loaded_by(cli_roots())
    assert loaded["polars"][-2:] == [module, "polars"]


def test_no_module_imports_a_private_name_of_another():
    graph = polster_graph()
    private = [
        f"{graph.files[m].relative_to(REPO)}:{i.line}: {i.target}.{name}"
        for m, imports in graph.imports.items()
        for i in imports
        for name in i.names
        if name.startswith("_") and not name.startswith("__") and i.target in graph.files
    ]
    assert not private, "private names imported from another module:\n" + "\n".join(private)
