"""``polster list`` (assets, their lineage as text, Mermaid or DOT) and ``polster check``
(layer rules, drift, cycles, and whether the definitions load): they read the project and
change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .. import LAYERS
from ..exceptions import PolsterError
from .assets import PATH_OPTION, project_at


def list_assets(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    graph: bool = typer.Option(False, "--graph", help="Print the lineage as a tree."),
    graph_format: str = typer.Option(
        "text",
        "--format",
        metavar="text|mermaid|dot",
        help="With --graph: a text tree, a Mermaid flowchart (for a README or a pull request) "
        "or Graphviz DOT.",
    ),
    path: Path | None = PATH_OPTION,
) -> None:
    """List every asset with its layer, files, upstream and downstream assets.

    \f
    Long: typer declares every option in the signature; the body is the listing's formats.
    """
    from ..project.asset_plans import load_assets

    if graph_format not in GRAPH_FORMATS:
        raise PolsterError(
            f"--format {graph_format!r} is not a graph format: use {', '.join(GRAPH_FORMATS)}"
        )
    if graph_format != "text" and as_json:
        raise PolsterError(f"--format {graph_format} and --json do not go together: pick one")
    project = project_at(path)
    assets = load_assets(project)
    assets.load_dependencies()
    ordered = assets.sorted_assets()
    if graph_format != "text":
        draw = mermaid_graph if graph_format == "mermaid" else dot_graph
        typer.echo("\n".join(draw(project.name, ordered)))
        return
    from .incremental import table_json, tables  # Delta tables (issue 29)

    found = tables(project.root, ordered)
    if as_json:
        payload = {
            "project": project.name,
            "root": str(project.root),
            "assets": [
                {**a.as_dict(), **({"table": table_json(found[a.key])} if a.key in found else {})}
                for a in ordered
            ],
        }
        if graph:
            payload["roots"] = [a.key for a in ordered if not _known_upstream(assets, a)]
        typer.echo(json.dumps(payload, indent=2))
        return
    if graph:
        for line in lineage_tree(assets):
            typer.echo(line)
        return
    if not ordered:
        typer.echo("No assets yet: add one with `polster add-asset`.")
        return
    rows = [("LAYER", "ASSET", "UPSTREAM", "DOWNSTREAM", "PARTITIONS", "FILES")]
    if found:  # a TABLE column only in projects with Delta tables
        rows = [("LAYER", "ASSET", "UPSTREAM", "DOWNSTREAM", "PARTITIONS", "TABLE", "FILES")]
    for asset in ordered:
        files = []
        files.append(asset.core or f"MISSING {_core(asset)}")
        files.append(asset.wrapper or f"MISSING {_wrapper(asset)}")
        if asset.wrapper and not asset.registered:
            files.append("(not registered)")
        rows.append(
            (
                asset.layer,
                asset.key,
                ", ".join(asset.upstream) or "-",
                ", ".join(asset.downstream) or "-",
                _partitioning(asset),
                *([_table(found.get(asset.key))] if found else []),
                "  ".join(files),
            )
        )
    columns = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    out = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(columns)]
        out.append("  ".join([*cells, row[columns]]).rstrip())
    counts = ", ".join(f"{layer} {sum(1 for a in ordered if a.layer == layer)}" for layer in LAYERS)
    out.append(f"{len(ordered)} assets ({counts})")
    typer.echo("\n".join(out))


GRAPH_FORMATS = ("text", "mermaid", "dot")


def _graph_nodes(ordered) -> tuple[list[tuple[str, list[str]]], list[tuple[str, str]]]:
    """Layers with their asset keys (an upstream that does not exist under "missing"), and
    the edges upstream -> asset, in a stable order."""
    known = {a.key for a in ordered}
    layers = [(layer, [a.key for a in ordered if a.layer == layer]) for layer in LAYERS]
    missing = sorted({up for a in ordered for up in a.upstream if up not in known})
    if missing:
        layers.append(("missing", missing))
    edges = [(up, a.key) for a in ordered for up in a.upstream]
    return [(layer, keys) for layer, keys in layers if keys], edges


def mermaid_graph(name: str, ordered) -> list[str]:
    """The lineage as a Mermaid flowchart, one subgraph per layer (GitHub and GitLab render it
    in a ```mermaid block)."""
    layers, edges = _graph_nodes(ordered)
    lines = ["flowchart LR"]
    for layer, keys in layers:
        lines.append(f"  subgraph {layer}")
        lines += [f"    {key}" for key in keys]
        lines.append("  end")
    lines += [f"  {up} --> {key}" for up, key in edges]
    return lines


def dot_graph(name: str, ordered) -> list[str]:
    """The lineage in Graphviz DOT (``dot -Tsvg``), one cluster per layer."""
    layers, edges = _graph_nodes(ordered)
    lines = [f"digraph {_dot_id(name)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for layer, keys in layers:
        lines.append(f"  subgraph cluster_{layer} {{")
        lines.append(f"    label={_dot_id(layer)};")
        lines += [f"    {_dot_id(key)};" for key in keys]
        lines.append("  }")
    lines += [f"  {_dot_id(up)} -> {_dot_id(key)};" for up, key in edges]
    lines.append("}")
    return lines


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(spec) -> str:
    """``merge on customer_id``, ``delta``, ``parquet`` (or ``INVALID`` metadata)."""
    if spec is None:
        return "parquet"
    return "INVALID (see polster check)" if isinstance(spec, str) else spec.label


def _partitioning(asset) -> str:
    """``daily from 2026-11-01``, ``custom`` (a partitions_def polster cannot read) or ``-``."""
    if asset.partitions == "none":
        return "-"
    if asset.partitions_start:
        return f"{asset.partitions} from {asset.partitions_start}"
    return asset.partitions


def _core(asset) -> str:
    from ..project.graph import core_path

    return core_path(asset.layer, asset.name)


def _wrapper(asset) -> str:
    from ..project.graph import wrapper_path

    return wrapper_path(asset.layer, asset.name)


def _known_upstream(assets, asset) -> list[str]:
    return [u for u in asset.upstream if u in assets.assets and u != asset.key]


def lineage_tree(assets) -> list[str]:
    """The lineage as a tree from each asset without upstream; shared subtrees appear once."""
    ordered = assets.sorted_assets()
    lines: list[str] = []
    expanded: set[str] = set()

    def walk(key: str, prefix: str, last: bool, root: bool, path: tuple[str, ...]) -> None:
        connector = "" if root else ("└── " if last else "├── ")
        children = [d for d in assets.assets[key].downstream if d != key]
        if key in path:
            lines.append(f"{prefix}{connector}{key} (cycle)")
            return
        if key in expanded and children:
            lines.append(f"{prefix}{connector}{key} (see above)")
            return
        lines.append(f"{prefix}{connector}{key}")
        expanded.add(key)
        inner = "" if root else prefix + ("    " if last else "│   ")
        for i, child in enumerate(children):
            walk(child, inner, i == len(children) - 1, False, (*path, key))

    roots = [a.key for a in ordered if not _known_upstream(assets, a)]
    for root in roots:
        walk(root, "", True, True, ())
    # Assets only reachable through a cycle have no root: show them too.
    for asset in ordered:
        if asset.key not in expanded:
            walk(asset.key, "", True, True, ())
    if not lines:
        lines.append("No assets yet: add one with `polster add-asset`.")
    return lines


def check(
    path: Path | None = PATH_OPTION,
    load: bool = typer.Option(
        True,
        "--load/--no-load",
        help="Also load the Dagster definitions in the project's Python, as a run does "
        "(a few seconds; --no-load checks the files only).",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print JSON: one object per problem (file, line, rule, problem, fix), and the "
        "warnings; the exit code is the same.",
    ),
) -> None:
    """Report layer-rule breaks, cycles, drift between files and registrations, bad names,
    and whatever stops the definitions from loading.

    \f
    Long: typer declares every option in the signature; the body is the command's flow, read
    top to bottom (prompts, checks, plan, apply, what to do next).
    """
    from ..plugin_system.manager import get_plugins
    from ..project.asset_plans import load_assets
    from ..project.envfile import repeated
    from ..project.graph import Problem
    from ..project.merge import unresolved_conflicts
    from ..project.record import read_record

    project = project_at(path)
    read_record(project.root)  # a malformed record is refused in one line, like elsewhere
    assets = load_assets(project)
    config, warnings = project.plugin_problems(get_plugins())
    problems = [Problem("pyproject.toml", text, "config") for text in config]
    problems += assets.problems()
    from ..project.contract_check import contract_problems

    problems += contract_problems(project.root)  # a contract column no longer produced
    from .incremental import table_json, table_lines, table_problems, tables

    found = tables(project.root, assets.sorted_assets())  # Delta tables (issue 29)
    problems += table_problems(found)
    problems += [
        Problem(
            f"{rel}:{line}",
            "unresolved conflict block (<<<<<<< ... >>>>>>>) left by polster upgrade: keep the "
            "lines you want and delete the marker lines",
            "conflict",
        )
        for rel, line in unresolved_conflicts(project.root)
    ]
    for warning in warnings:
        note = "needed only to change the CI files"
        typer.echo(f"warning: pyproject.toml: {warning}; {note}", err=True)
    for setting, lines in repeated(project.root):  # the last one wins, which may surprise
        shown = ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"
        warnings.append(f"{setting} is set twice")
        typer.echo(
            f"warning: .env: {setting} is set on lines {shown}; the last one ({lines[-1]}) "
            "is used: delete the others",
            err=True,
        )
    if load and not problems:  # a problem above already explains a failed load
        from ..project.definitions_check import load_problem

        failed, note = load_problem(project.root)
        if failed is not None:
            where, error = failed
            problems.append(
                Problem(
                    where or "src/orchestration/definitions.py",
                    f"the definitions do not load ({error}), so no run can start: fix it there",
                    "definitions",
                )
            )
        if note:
            warnings.append(note)
            typer.echo(f"warning: {note}", err=True)
    count = len(assets.assets)
    if as_json:
        payload = {
            "project": project.name,
            "assets": count,
            "ok": not problems,
            "problems": [problem.as_dict() for problem in problems],
            "warnings": warnings,
            "tables": {key: table_json(spec) for key, spec in found.items()},
        }
        typer.echo(json.dumps(payload, indent=2))
        if problems:
            raise typer.Exit(1)
        return
    if problems:
        for problem in problems:
            typer.echo(str(problem))
        noun = "problem" if len(problems) == 1 else "problems"
        typer.echo(f"{len(problems)} {noun} in {project.name} ({count} assets)", err=True)
        raise typer.Exit(1)
    for line in table_lines(found):
        typer.echo(line)
    noted = f" ({len(warnings)} warning{'s' * (len(warnings) != 1)} above)" if warnings else ""
    typer.echo(f"OK: {count} assets, no problems{noted}")


def register(app: typer.Typer) -> None:
    """Add ``list`` and ``check`` to ``app``."""
    app.command("list")(list_assets)
    app.command()(check)
