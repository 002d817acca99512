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


def lazy_import_reason(graph, module: str, imp, starts: list[set[str]]) -> str | None:
    """Why ``imp``, an import inside a function of ``module``, is not at module level: it
    keeps a third-party package out until needed (heavy ones and light ones alike: the
    example scripts and the CLI load what they use), or keeps a start light (the module is
    loaded at CLI start, when the CLI loads its plugins, or at pytest's start, and the import
    is not); or the reason written beside it (``# lazy: ...``). None when nothing justifies
    it."""
    if imp.comment.startswith("lazy:"):
        return imp.comment
    loaded = set(graph.loaded_by([module]))
    brought = set(graph.loaded_by([imp.target])) - loaded
    third_party = sorted(
        {m.split(".")[0] for m in brought if m.split(".")[0] not in sys.stdlib_module_names}
        - {"polster_core"}
    )
    if third_party and imp.target not in loaded:
        return f"loads {', '.join(third_party)} when used"
    if any(module in start and imp.target not in start for start in starts):
        return "keeps the CLI's start light"
    return None


def test_imports_inside_functions_have_a_reason():
    graph = polster_graph()
    # `polster --help`, a command that loads the plugins, and pytest's start (Polster's pytest
    # plugin loads polster_core.testing in every suite where polster is installed)
    starts = [
        set(graph.loaded_by(cli_roots()[:2])),
        set(graph.loaded_by(cli_roots())),
        set(graph.loaded_by(["polster_core.testing.pytest_plugin"])),
    ]
    unjustified = [
        f"{graph.files[m].relative_to(REPO)}:{i.line}: {i.target}"
        for m, imports in graph.imports.items()
        if m.startswith("polster_core")
        for i in imports
        if not i.top and lazy_import_reason(graph, m, i, starts) is None
    ]
    assert not unjustified, (
        "imports inside functions that could be at module level (nothing heavy, not on the "
        "CLI's start; else say why with a `# lazy: ...` comment):\n" + "\n".join(unjustified)
    )
