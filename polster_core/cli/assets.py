"""``polster add-asset``, ``remove-asset``, ``list`` and ``check``: growing a project safely.

These commands only read and write files: they never import Dagster or polars. Each change is
a plan (see :mod:`polster_core.project.plan`) shown by ``--dry-run`` and applied all-or-nothing.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperCommand

from .. import LAYERS
from ..exceptions import PolsterError
from .common import choose, may_prompt, say_relock


class TemplateChoicesCommand(TyperCommand):
    """Fills ``{templates}`` in option help with the installed asset templates."""

    def format_help(self, ctx, formatter):
        from ..plugin_system.manager import get_plugins

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


def project_at(path: Path | None, lock: str | None = None):
    """The project at ``path``; with ``lock`` (the command's name), locked until the command
    ends, so its read-plan-apply cycle never interleaves with another command's."""
    from ..project.model import find_project, hold_for_command

    project = find_project(path)
    return hold_for_command(project, lock) if lock else project


PATH_OPTION = typer.Option(None, "--path", help="Project directory (default: here).")


NO_INPUT_OPTION = typer.Option(
    False, "--no-input", help="Never prompt (also the default when stdin is not a terminal)."
)


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
    # Delta Lake tables and incremental strategies (issue 29): polster_core/run/delta.py.
    incremental: str | None = typer.Option(
        None,
        "--incremental",
        metavar="STRATEGY",
        help="merge, append, delete+insert or snapshot: keep the table in Delta Lake and "
        "apply each run's rows to it: merge "
        "(upsert by --unique-key), append, delete+insert (replace the rows of each key), "
        "snapshot (type-2 history: valid_from, valid_to, is_current). The core function "
        "returns the new or changed rows.",
    ),
    unique_key: str | None = typer.Option(
        None, "--unique-key", help="The key column(s) of --incremental, comma-separated."
    ),
    table_format: str | None = typer.Option(
        None,
        "--format",
        metavar="parquet|delta",
        help="The table's format (default: [tool.polster] table_format, else parquet); "
        "--incremental implies delta.",
    ),
    on_schema_change: str | None = typer.Option(
        None,
        "--on-schema-change",
        metavar="fail|append_new_columns",
        help="With --incremental: what a new column in the rows does (default: fail).",
    ),
    hard_deletes: str | None = typer.Option(
        None,
        "--hard-deletes",
        metavar="ignore|invalidate|new_record",
        help="With --incremental snapshot: what becomes of a key missing from the rows (dbt's "
        "hard_deletes; default ignore; only when each run returns the whole source).",
    ),
    contract: bool = typer.Option(
        False, "--contract", help="Declare a data contract in its core file (dataframely)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, write nothing."),
    no_input: bool = NO_INPUT_OPTION,
    path: Path | None = PATH_OPTION,
) -> None:
    """Add an asset: its core file, its Dagster wrapper and its registration.

    Incremental (a Delta table each run upserts): --incremental merge --unique-key id.
    \f
    Long: typer declares every option in the signature; the body is the command's flow, read
    top to bottom (prompts, checks, plan, apply, what to do next).
    """
    from ..plugin_system.manager import get_plugins
    from ..project.asset_plans import (
        add_asset_plan,
        allow_same_layer,
        check_new_asset,
        load_assets,
        parse_deps,
        resolve_dependency,
        validate_layer,
    )
    from ..project.graph import allowed_layers
    from ..project.layout import rule
    from ..project.names import asset_key, validate_asset_name

    project = project_at(path, lock=None if dry_run else "add-asset")
    interactive = may_prompt(no_input)
    assets = load_assets(project)
    allow = allow_same_layer(project)

    if layer is None:
        if not interactive:
            raise PolsterError("--layer is required: pass --layer bronze, silver or gold")
        layer = choose("Layer", LAYERS, default="bronze")
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
        template = choose("Template", serving, default="default")
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
            from ..project.asset_plans import names_list

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

    from ..project.partition_specs import choose_partitioning

    assets.load_dependencies()
    partitioning, same, note = choose_partitioning(
        assets, upstream, partitions, start, spec, _partitions_prompt if interactive else None
    )
    from .incremental import choose_table, record_table

    table = choose_table(
        project, plugins, incremental, unique_key, table_format, on_schema_change,
        partitioning.partitioned, _ask if interactive else None, hard_deletes=hard_deletes,
    )  # fmt: skip
    result = add_asset_plan(
        project, assets, layer, name, spec, upstream, partitioning, same, table=table
    )
    from ..project.record import follow

    # The contract is the user's, as an edit of the core file would be: not in the record.
    recorded = with_contract(result.plan, layer, name) if contract else None
    follow(
        result.plan,
        plugins,
        lambda a: record_table(
            a.add_asset(
                layer, name, spec.name, upstream, partitioning.kind, partitioning.start, list(same)
            ),
            a,
            layer,
            name,
            table,
        ),
        generated=recorded,
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
    typer.echo(f"Added {key} (template {spec.name}{', ' + table.label if table else ''}):")
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


def with_contract(plan, layer: str, name: str) -> dict[str, str]:
    """Add an empty data contract to the core file ``plan`` creates; returns the core file as
    the template rendered it, for the record."""
    from ..project.contract_code import add_contract, contract_block

    rel = f"src/core/{layer}_{name}.py"
    op = next(op for op in plan.ops if op.path == plan.root / rel)
    rendered = op.content or ""
    op.content = add_contract(rendered, contract_block(layer, name), rel)
    return {rel: rendered}


def _partitions_prompt(question: str, default: str) -> str:
    from ..project.partition_specs import KINDS, NONE

    if question == "Partitions":
        return choose(question, [*KINDS, NONE], default=default)
    return typer.prompt(question, default=default)


def _new_name(assets, layer: str, name: str) -> str:
    from ..project.asset_plans import check_new_asset

    check_new_asset(assets, layer, name)
    return name


def _picked(value: str, choices: list[str], assets, layer: str, name: str) -> list[str]:
    from ..project.asset_plans import parse_deps, resolve_dependency

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
        value = typer.prompt(text, default=default, show_default=bool(default))
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
    """Remove an asset: both files, its registration and (with --purge-data) its data.

    \f
    Long: typer declares every option in the signature; the body is the command's flow, read
    top to bottom (prompts, checks, plan, apply, what to do next).
    """
    from ..project.asset_plans import load_assets, remove_asset_plan, validate_layer
    from ..project.names import asset_key, asset_name_problem

    project = project_at(path, lock=None if dry_run else "remove-asset")
    interactive = may_prompt(no_input)
    assets = load_assets(project)
    asked = False
    if layer is None:
        if not interactive:
            raise PolsterError("--layer is required: pass --layer bronze, silver or gold")
        present = [lay for lay in LAYERS if assets.in_layers((lay,))]
        if not present:
            raise PolsterError("this project has no assets to remove")
        layer = choose("Layer", present, default=present[0])
        asked = True
    layer = validate_layer(layer)
    if name is None:
        if not interactive:
            raise PolsterError("an asset name is required: pass --name")
        choices = [a.name for a in assets.in_layers((layer,))]
        if not choices:
            raise PolsterError(f"there are no {layer} assets to remove")
        typer.echo(f"{layer.capitalize()} assets: {', '.join(choices)}")
        name = choose("Asset to remove", choices)
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
        if typer.confirm(f"Also delete its stored data ({', '.join(shown)})?", default=False):
            purge_data = True
            result = remove_asset_plan(project, assets, layer, name, True, force)
    from ..project.record import follow

    follow(result.plan, change=lambda a: a.drop_asset(layer, name))
    key = asset_key(layer, name)
    lines = result.plan.describe() + (result.local.describe() if result.local else [])
    stored = None
    if purge_data and remote:  # asks the backend now: its SDK is imported only here
        from ..project.purge import find_remote_table

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
    if asked and not typer.confirm(f"Remove {key}?", default=False):
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


def register(app: typer.Typer) -> None:
    """Add ``add-asset`` and ``remove-asset`` to ``app``."""
    app.command("add-asset", cls=TemplateChoicesCommand)(add_asset)
    app.command("remove-asset")(remove_asset)
