"""``polster add-asset``, ``remove-asset``, ``list`` and ``check``: growing a project safely.

These commands only read and write files: they never import Dagster or polars. Each change is
a plan (see :mod:`polster_core.plan`) shown by ``--dry-run`` and applied all-or-nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import typer
from typer.core import TyperCommand

from .. import LAYERS
from ..exceptions import PolsterError
from . import may_prompt, say_relock


class TemplateChoicesCommand(TyperCommand):
    """Fills ``{templates}`` in option help with the installed asset templates."""

    def format_help(self, ctx, formatter):
        from ..plugins import get_plugins

        plugins = get_plugins()
        templates = plugins.asset_templates()
        names = plugins.unique_names(templates)
        for param in self.params:
            if getattr(param, "help", None) and "{templates}" in param.help:
                param.help = param.help.replace("{templates}", ", ".join(names) or "none")
        described = [
            f"{name} ({', '.join(templates[name].layers)}): {templates[name].description}"
            for name in names
            if hasattr(templates[name], "layers")
        ]
        if described:
            self.epilog = "Templates installed:\n\n" + "\n\n".join(described)
        super().format_help(ctx, formatter)


def _project(path: Path | None, lock: str | None = None):
    """The project at ``path``; with ``lock`` (the command's name), locked until the command
    ends, so its read-plan-apply cycle never interleaves with another command's."""
    from ..project import find_project, hold_for_command

    project = find_project(path)
    return hold_for_command(project, lock) if lock else project


PATH_OPTION = typer.Option(None, "--path", help="Project directory (default: here).")
NO_INPUT_OPTION = typer.Option(
    False, "--no-input", help="Never prompt (also the default when stdin is not a terminal)."
)


# add-asset ----------------------------------------------------------------------------------


def add_asset(
    layer: str | None = typer.Option(None, "--layer", "-l", help="bronze, silver or gold."),
    name: str | None = typer.Option(
        None, "--name", "-n", help="Asset name: lowercase letters, digits, _ (e.g. api_users)."
    ),
    template: str | None = typer.Option(
        None, "--template", "-t", help="Asset template: {templates} (default: default)."
    ),
    deps: str | None = typer.Option(
        None,
        "--deps",
        "-d",
        help="Upstream assets, comma-separated: run_bronze_api_users, or api_users when "
        "unambiguous.",
    ),
    partitions: str | None = typer.Option(
        None,
        "--partitions",
        "-p",
        help="daily, hourly, weekly, monthly or none (default: its upstream's, else none).",
    ),
    start: str | None = typer.Option(
        None, "--start", help="First partition, YYYY-MM-DD (default: its upstream's)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, write nothing."),
    no_input: bool = NO_INPUT_OPTION,
    path: Path | None = PATH_OPTION,
) -> None:
    """Add an asset: its core file, its Dagster wrapper and its registration."""
    from ..asset_plans import (
        add_asset_plan,
        allow_same_layer,
        check_new_asset,
        load_assets,
        parse_deps,
        resolve_dependency,
        validate_layer,
    )
    from ..graph import allowed_layers, rule
    from ..names import asset_key, validate_asset_name
    from ..plugins import get_plugins

    project = _project(path, lock=None if dry_run else "add-asset")
    interactive = may_prompt(no_input)
    assets = load_assets(project)
    allow = allow_same_layer(project)

    if layer is None:
        if not interactive:
            raise PolsterError("--layer is required: pass --layer bronze, silver or gold")
        layer = click.prompt("Layer", default="bronze", type=click.Choice(LAYERS))
    layer = validate_layer(layer)

    if name is None and interactive:
        name = _ask(
            "Asset name", lambda v: _new_name(assets, layer, validate_asset_name(v)), default=None
        )
    name = validate_asset_name(name)
    check_new_asset(assets, layer, name)

    plugins = get_plugins()
    templates = plugins.asset_templates()
    serving = sorted(
        t for t, spec in templates.items() if getattr(spec, "layers", ()) and layer in spec.layers
    )
    if template is None and interactive and len(serving) > 1:
        typer.echo(f"Templates for {layer}:")
        for option in serving:
            typer.echo(f"  {option:<10} {templates[option].description}")
        template = click.prompt("Template", default="default", type=click.Choice(serving))
    spec = _template(templates, (template or "default").strip().lower(), layer, serving)

    allowed = allowed_layers(layer, allow)
    refs = parse_deps(deps)
    if layer == "bronze" and refs:
        raise PolsterError(f"{rule('bronze', allow)}: drop --deps for bronze assets")
    if layer != "bronze" and not refs:
        choices = [a.key for a in assets.in_layers(allowed)]
        if not choices:
            raise PolsterError(
                f"a {layer} asset needs an upstream asset, and there is no "
                f"{' or '.join(allowed)} asset yet: add one first"
            )
        if not interactive:
            from ..asset_plans import names_list

            raise PolsterError(
                f"{layer} assets need upstream assets: pass --deps (choose from "
                f"{names_list(choices)})"
            )
        typer.echo(f"Upstream assets a {layer} asset may use ({rule(layer, allow)}):")
        for number, key in enumerate(choices, 1):
            typer.echo(f"  {number:>3}. {key}")
        refs = _ask(
            "Upstream assets (numbers or names, comma-separated)",
            lambda v: _picked(v, choices, assets, layer, name),
            default="",  # an empty answer is refused with its reason, not asked again silently
        )
    upstream = [resolve_dependency(assets, ref, layer, name) for ref in refs]
    upstream = list(dict.fromkeys(upstream))

    from ..partition_specs import choose_partitioning

    assets.load_dependencies()
    partitioning, same, note = choose_partitioning(
        assets, upstream, partitions, start, spec, _partitions_prompt if interactive else None
    )
    result = add_asset_plan(project, assets, layer, name, spec, upstream, partitioning, same)
    from ..record import follow

    follow(
        result.plan,
        plugins,
        lambda a: a.add_asset(
            layer, name, spec.name, upstream, partitioning.kind, partitioning.start, list(same)
        ),
    )
    key = asset_key(layer, name)
    if dry_run:
        typer.echo(f"Would add {key} (template {spec.name}) to {project.root}:")
        for line in result.plan.describe():
            typer.echo(line)
        _settings_notes(result, would=True)
        typer.echo("Nothing was written (--dry-run).")
        return
    result.plan.apply()
    if note:
        typer.echo(note)
    typer.echo(f"Added {key} (template {spec.name}):")
    for line in result.plan.describe():
        typer.echo(line)
    _settings_notes(result, would=False)
    core = f"src/core/{layer}_{name}.py"
    script = f"{core} {partitioning.example_key}" if partitioning.partitioned else core
    typer.echo(
        f"Next: edit {core}, then run it with `python run_polster.py --select {key}` "
        f'(or `python {script}`, while it keeps its `if __name__ == "__main__":` block).'
    )
    say_relock(project.root, result.plan)  # last: the line to act on before the next push


def _partitions_prompt(question: str, default: str) -> str:
    from ..partition_specs import KINDS, NONE

    if question == "Partitions":
        return click.prompt(question, default=default, type=click.Choice([*KINDS, NONE]))
    return click.prompt(question, default=default)


def _new_name(assets, layer: str, name: str) -> str:
    from ..asset_plans import check_new_asset

    check_new_asset(assets, layer, name)
    return name


def _picked(value: str, choices: list[str], assets, layer: str, name: str) -> list[str]:
    from ..asset_plans import parse_deps, resolve_dependency

    refs = []
    for item in parse_deps(value):
        if item.isdigit():
            number = int(item)
            if not 1 <= number <= len(choices):
                raise PolsterError(f"{number} is not in the list (1-{len(choices)})")
            item = choices[number - 1]
        refs.append(resolve_dependency(assets, item, layer, name))
    if not refs:
        raise PolsterError(
            f"a {layer} asset needs at least one upstream asset: "
            "type numbers or names from the list above"
        )
    return refs


def _ask(text: str, convert, default):
    """Prompt until ``convert`` accepts the answer; its error is shown and the question asked
    again."""
    while True:
        value = click.prompt(text, default=default, show_default=bool(default))
        try:
            return convert(value)
        except PolsterError as exc:
            typer.echo(f"  {exc}", err=True)


def _template(templates: dict, name: str, layer: str, serving: list[str]):
    spec = templates.get(name)
    if spec is None or not hasattr(spec, "render_core"):
        if spec is not None and hasattr(spec, "plugins"):
            raise PolsterError(
                f"asset template '{name}' is offered by both {spec.plugins[0]} and "
                f"{spec.plugins[1]}: uninstall one of them"
            )
        raise PolsterError(
            f"unknown asset template '{name}': {layer} templates are {', '.join(serving)}"
        )
    if layer not in spec.layers:
        raise PolsterError(
            f"asset template '{name}' is for {' and '.join(spec.layers)} assets, not {layer}: "
            f"{layer} templates are {', '.join(serving)}"
        )
    return spec


def _settings_notes(result, would: bool) -> None:
    if result.settings:
        where = "; .env.example lists them" if result.example_updated else ""
        typer.echo(f"Settings it reads (set them in .env{where}):")
        width = max(len(s.name) for s in result.settings)
        for setting in result.settings:
            extra = []
            if setting.default:
                extra.append(f"default {setting.default}")
            if setting.secret:
                extra.append("secret")
            suffix = f" ({', '.join(extra)})" if extra else ""
            typer.echo(f"  {setting.name:<{width}}  {setting.description}{suffix}")
    if result.requirements:
        verb = "Would add" if would else "Added"
        typer.echo(
            f"{verb} {', '.join(result.requirements)} to the project's dependencies: run "
            "`polster setup` to install"
        )
    if result.manual_requirements:
        typer.echo(
            f"It needs {', '.join(result.manual_requirements)}: add it to [project] "
            "dependencies in pyproject.toml, then run `polster setup`"
        )


# remove-asset -------------------------------------------------------------------------------


def remove_asset(
    layer: str | None = typer.Option(None, "--layer", "-l", help="bronze, silver or gold."),
    name: str | None = typer.Option(None, "--name", "-n", help="The asset's name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, write nothing."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Remove it even when other wrappers cannot be read or its registration cannot be "
        "edited. Never removes an asset others depend on.",
    ),
    purge_data: bool = typer.Option(
        False,
        "--purge-data",
        help="Also delete its stored table: every partition and the unpartitioned file, on "
        "the configured storage backend (STORAGE_BACKEND), and its local files.",
    ),
    no_input: bool = NO_INPUT_OPTION,
    path: Path | None = PATH_OPTION,
) -> None:
    """Remove an asset: both files, its registration and (with --purge-data) its data."""
    from ..asset_plans import load_assets, remove_asset_plan, validate_layer
    from ..names import asset_key, asset_name_problem

    project = _project(path, lock=None if dry_run else "remove-asset")
    interactive = may_prompt(no_input)
    assets = load_assets(project)
    asked = False
    if layer is None:
        if not interactive:
            raise PolsterError("--layer is required: pass --layer bronze, silver or gold")
        present = [lay for lay in LAYERS if assets.in_layers((lay,))]
        if not present:
            raise PolsterError("this project has no assets to remove")
        layer = click.prompt("Layer", default=present[0], type=click.Choice(present))
        asked = True
    layer = validate_layer(layer)
    if name is None:
        if not interactive:
            raise PolsterError("an asset name is required: pass --name")
        choices = [a.name for a in assets.in_layers((layer,))]
        if not choices:
            raise PolsterError(f"there are no {layer} assets to remove")
        typer.echo(f"{layer.capitalize()} assets: {', '.join(choices)}")
        name = click.prompt("Asset to remove", type=click.Choice(choices))
        asked = True
    name = (name or "").strip()
    problem = asset_name_problem(name)
    if problem:
        raise PolsterError(f"{problem}: name an existing asset")

    result = remove_asset_plan(project, assets, layer, name, purge_data, force)
    remote = result.backend != "local"
    if asked and (result.data_files or remote) and not purge_data:
        shown = [_shown(project.root, p) for p in result.data_files]
        shown += [f"its table on {result.backend}"] if remote else []
        if click.confirm(f"Also delete its stored data ({', '.join(shown)})?", default=False):
            purge_data = True
            result = remove_asset_plan(project, assets, layer, name, True, force)
    from ..record import follow

    follow(result.plan, change=lambda a: a.drop_asset(layer, name))
    key = asset_key(layer, name)
    lines = result.plan.describe() + (result.local.describe() if result.local else [])
    stored = None
    if purge_data and remote:  # asks the backend now: its SDK is imported only here
        from ..purge import find_remote_table

        stored = find_remote_table(project, layer, name, result.backend)
        lines += stored.describe()
    if dry_run:
        typer.echo(f"Would remove {key} from {project.root}:")
    elif asked:
        typer.echo(f"Removing {key} will:")
    for line in lines if (dry_run or asked) else []:
        typer.echo(line)
    if dry_run:
        _remove_notes(project, result, purge_data, stored)
        typer.echo("Nothing was written (--dry-run).")
        return
    if asked and not click.confirm(f"Remove {key}?", default=False):
        typer.echo("Nothing was removed.")
        raise typer.Exit(1)
    if stored is not None:  # first: if the store fails, the asset stays and a rerun finishes
        stored.delete()
    if result.local is not None:
        result.local.set_aside()  # renamed aside: put back if the plan fails, deleted after
    try:
        result.plan.apply()
    except BaseException:
        if result.local is not None:
            result.local.put_back()
        raise
    if result.local is not None:
        result.local.finish()
    if not asked:
        typer.echo(f"Removed {key}:")
        for line in lines:
            typer.echo(line)
    else:
        typer.echo(f"Removed {key}.")
    _remove_notes(project, result, purge_data, stored)


def _shown(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _remove_notes(project, result, purge_data: bool, stored=None) -> None:
    for note in result.notes:
        typer.echo(note)
    if stored is not None and stored.empty:
        typer.echo(
            f"Nothing of {stored.layer}/{stored.name} is stored on {stored.backend} "
            f"({stored.folder}, {stored.file})"
        )
    if result.data_files and not purge_data:
        shown = ", ".join(_shown(project.root, p) for p in result.data_files)
        typer.echo(f"Its stored data was kept ({shown}): --purge-data deletes it")


# list / check -------------------------------------------------------------------------------


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
    """List every asset with its layer, files, upstream and downstream assets."""
    from ..asset_plans import load_assets

    if graph_format not in GRAPH_FORMATS:
        raise PolsterError(
            f"--format {graph_format!r} is not a graph format: use {', '.join(GRAPH_FORMATS)}"
        )
    if graph_format != "text" and as_json:
        raise PolsterError(f"--format {graph_format} and --json do not go together: pick one")
    project = _project(path)
    assets = load_assets(project)
    assets.load_dependencies()
    ordered = assets.sorted_assets()
    if graph_format != "text":
        draw = mermaid_graph if graph_format == "mermaid" else dot_graph
        typer.echo("\n".join(draw(project.name, ordered)))
        return
    if as_json:
        payload = {
            "project": project.name,
            "root": str(project.root),
            "assets": [a.as_dict() for a in ordered],
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
                "  ".join(files),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    out = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(5)]
        out.append("  ".join([*cells, row[5]]).rstrip())
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


def _partitioning(asset) -> str:
    """``daily from 2026-11-01``, ``custom`` (a partitions_def polster cannot read) or ``-``."""
    if asset.partitions == "none":
        return "-"
    if asset.partitions_start:
        return f"{asset.partitions} from {asset.partitions_start}"
    return asset.partitions


def _core(asset) -> str:
    from ..graph import core_path

    return core_path(asset.layer, asset.name)


def _wrapper(asset) -> str:
    from ..graph import wrapper_path

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
    and whatever stops the definitions from loading."""
    from ..asset_plans import load_assets
    from ..envfile import repeated
    from ..graph import Problem
    from ..merge import unresolved_conflicts
    from ..plugins import get_plugins
    from ..record import read_record

    project = _project(path)
    read_record(project.root)  # a malformed record is refused in one line, like elsewhere
    assets = load_assets(project)
    config, warnings = project.plugin_problems(get_plugins())
    problems = [Problem("pyproject.toml", text, "config") for text in config]
    problems += assets.problems()
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
        from ..definitions_check import load_problem

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
    noted = f" ({len(warnings)} warning{'s' * (len(warnings) != 1)} above)" if warnings else ""
    typer.echo(f"OK: {count} assets, no problems{noted}")


def register(app: typer.Typer) -> None:
    """Add ``add-asset``, ``remove-asset``, ``list`` and ``check`` to ``app``."""
    app.command("add-asset", cls=TemplateChoicesCommand)(add_asset)
    app.command("remove-asset")(remove_asset)
    app.command("list")(list_assets)
    app.command()(check)
