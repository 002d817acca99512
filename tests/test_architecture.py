"""The architecture, as declared contracts on the static import graph (tests/import_graph.py).

- No import circles in polster_core or a plugin of this repository: a module's dependencies
  can be read, tested and moved without dragging in the modules that depend on it.
- What the ``polster`` CLI imports at start, with every plugin it loads (built-in and this
  repository's), never reaches Dagster, polars, pyarrow or a cloud SDK at module level:
  ``polster --help`` and the file-only commands stay light (tests/test_assets_light.py checks
  the same by running them).
- The layers: ``polster_core.cli`` (the command line), ``polster_core.project`` (the project's
  files) and ``polster_core.plugin_system`` load neither the run time (``polster_core.run``)
  nor anything heavy at module level; only ``polster_core.run`` does.
- The old public paths (``polster_core.storage``, ``.runtime``, ...) are the same modules as
  the new ones, and nothing inside polster_core imports them.
- No module above about 500 lines, no function above 80, without a line ``Long: why`` in its
  docstring.
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


# The layers that read and write a project's files: never the run time at module level.
FILES_ONLY = ("polster_core.cli", "polster_core.project", "polster_core.plugin_system")
# The old public paths, kept for generated projects and plugins (docs/plugins.md, "Public API").
PUBLIC_ALIASES = {
    "polster_core.runtime": "polster_core.run.io_manager",
    "polster_core.storage": "polster_core.run.storage",
    "polster_core.remote": "polster_core.run.remote",
    "polster_core.settings": "polster_core.run.settings",
    "polster_core.history": "polster_core.run.history",
    "polster_core.sqlite_history": "polster_core.run.sqlite_history",
    "polster_core.pool": "polster_core.run.pool",
    "polster_core.plugins": "polster_core.plugin_system.manager",
    "polster_core.hookspecs": "polster_core.plugin_system.hookspecs",
    "polster_core.specs": "polster_core.plugin_system.specs",
    "polster_core.ci": "polster_core.project.ci",
    "polster_core.scaffold": "polster_core.project.scaffold",
}
MODULE_LINES = 500
FUNCTION_LINES = 80


def cli_roots() -> list[str]:
    """The CLI's module and every plugin module the CLI loads (``polster_core.plugins``)."""
    from polster_core.plugins import DEFAULT_PLUGINS as builtin

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
    if module.startswith(FILES_ONLY) and imp.target.startswith("polster_core.run"):
        return "a files-only layer loads the run time only when used"
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


def test_the_files_only_layers_load_neither_the_run_time_nor_anything_heavy():
    graph = polster_graph()
    found = []
    for module in sorted(graph.files):
        if not module.startswith(FILES_ONLY):
            continue
        for name, chain in graph.loaded_by([module]).items():
            if name.split(".")[0] in HEAVY or name.startswith("polster_core.run"):
                found.append(" -> ".join(chain))
                break
    assert not found, "files-only modules that load the run time:\n" + "\n".join(found)


def test_the_old_public_paths_are_the_same_modules():
    import importlib

    for old, new in PUBLIC_ALIASES.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    from polster_core import partitions, runner, storage
    from polster_core.run import partitions as run_partitions
    from polster_core.run import script_io

    assert partitions.PartitionedTable is run_partitions.PartitionedTable
    assert partitions.write_table is script_io.write_table  # every core/storage.py imports it

    assert callable(runner.main) and callable(runner.mask_url) and runner.quick_history
    assert storage._storages is storage._storages and storage.Storage._describe  # 0.1's names


def test_nothing_inside_polster_core_imports_an_old_public_path():
    graph = polster_graph()
    aliases = {*PUBLIC_ALIASES, "polster_core.runner", "polster_core.partitions"}
    found = [
        f"{graph.files[m].relative_to(REPO)}:{i.line}: {i.target}"
        for m, imports in graph.imports.items()
        if m.startswith("polster_core.") and m not in aliases
        for i in imports
        if i.target in aliases
    ]
    assert not found, "import the module itself, not its old public path:\n" + "\n".join(found)


def _long(node) -> bool:
    return any(line.startswith("Long:") for line in (ast.get_docstring(node) or "").splitlines())


def test_modules_and_functions_are_short_or_say_why():
    graph = polster_graph()
    found = []
    for module, path in sorted(graph.files.items()):
        if not module.startswith("polster_core"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MODULE_LINES and not _long(tree):
            found.append(f"{path.relative_to(REPO)}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES and not _long(node):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.name} {length}")
    assert not found, "too long, and no `Long: why` in the docstring:\n" + "\n".join(found)
