"""``polster upkeep``: compact and vacuum the project's Delta tables (issue 29).

Run in the project's environment (it reads the tables through delta-rs, with the storage
backend's own credentials from ``.env``). The retention is ``[tool.polster]
delta_retention_hours`` (default 168, Delta's 7 days): versions older than that can no longer be
read with ``version=`` / ``as_of=`` once their files are vacuumed.

``register(app)`` adds the command to the CLI it is handed, so this module never imports the CLI.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..exceptions import PolsterError


def upkeep(
    retention_hours: int | None = typer.Option(
        None,
        "--retention-hours",
        min=0,
        help="Keep the files of versions this recent (default: [tool.polster] "
        "delta_retention_hours, else 168).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say what would be vacuumed; compact and delete nothing."
    ),
    path: Path | None = typer.Option(None, "--path", help="Project directory (default: here)."),
) -> None:
    """Compact each Delta table's small files and vacuum files of versions older than the
    retention, reporting what it removed."""
    from ..project.asset_plans import load_assets
    from ..project.model import find_project
    from ..project.names import split_asset_key
    from ..run import delta  # the run time (it reads the tables through delta-rs)
    from .incremental import tables

    project = find_project(path)
    hours = delta.retention_hours(project.config) if retention_hours is None else retention_hours
    found = tables(project.root, load_assets(project).sorted_assets())
    if not found:
        typer.echo(
            "No Delta tables in this project: add one with `polster add-asset --incremental "
            "merge --unique-key COLUMN` (or --format delta)"
        )
        return
    try:
        import deltalake  # noqa: F401
    except ImportError:
        raise PolsterError(
            "polster upkeep needs deltalake, which the project's environment has: run "
            "`.venv/bin/polster upkeep` (or `polster setup` first)"
        ) from None
    from ..run.storage import get_storage

    storage = get_storage(project.root)
    total = 0
    for key, spec in found.items():
        if isinstance(spec, str):
            typer.echo(f"{key}: skipped: {spec}", err=True)
            continue
        layer, name = split_asset_key(key)
        if not delta.is_delta_table(storage, layer, name):
            typer.echo(f"{key}: no table stored yet")
            continue
        if dry_run:
            doomed = delta.vacuum_candidates(storage, layer, name, hours)
            typer.echo(f"{key}: would vacuum {len(doomed)} file(s) older than {hours} h")
            total += len(doomed)
            continue
        result = delta.upkeep(storage, layer, name, hours)
        total += result.files_vacuumed
        typer.echo(
            f"{key}: compacted {result.files_compacted} file(s) into {result.files_added}, "
            f"vacuumed {result.files_vacuumed} file(s) older than {hours} h "
            f"({result.bytes_vacuumed / 1e6:.1f} MB; now version {result.version})"
        )
    verb = "Would remove" if dry_run else "Removed"
    typer.echo(f"{verb} {total} file(s) in {len(found)} Delta table(s) (retention {hours} h)")


def register(app: typer.Typer) -> None:
    app.command()(upkeep)
