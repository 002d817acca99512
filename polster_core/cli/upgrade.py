"""``polster upgrade``: bring a project up to the installed Polster and plugins, keeping every
edit its user made (see :mod:`polster_core.project.upgrade`). Exit 0: upgraded (or nothing to do);
1: an error, nothing changed; 4: conflicts were written into files (``--dry-run``: would be).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..exceptions import PolsterError
from .common import say_relock


def upgrade(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would change, file by file; write nothing."
    ),
    no_input: bool = typer.Option(
        False,
        "--no-input",
        help="Never prompt: in a project without a record, files that differ are listed, "
        "not changed (also the default when stdin is not a terminal).",
    ),
    path: Path | None = typer.Option(None, "--path", help="Project directory (default: here)."),
) -> None:
    """Re-render the project with the installed Polster and plugins; merge your edits in.

    \f
    Long: typer declares every option in the signature; the body is the command's flow, read
    top to bottom (prompts, checks, plan, apply, what to do next).
    """
    from ..project.model import find_project, hold_for_command
    from ..project.upgrade import EXIT_CONFLICTS, upgrade_plan

    project = find_project(path)
    if not dry_run:
        project = hold_for_command(project, "upgrade")
    from ..plugin_system.manager import get_plugins

    interactive = not no_input and not dry_run and sys.stdin.isatty()
    try:
        result = upgrade_plan(project, get_plugins(), _ask if interactive else None)
    except UnicodeDecodeError as exc:
        raise PolsterError(
            f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8; "
            "nothing was changed"
        ) from None
    head = f"polster {result.from_version} -> {result.to_version}"
    if result.plugin_changes:
        head += f" (plugins: {', '.join(result.plugin_changes)})"
    typer.echo(f"{'Would upgrade' if dry_run else 'Upgrading'} {project.root}: {head}")
    if not result.has_record:
        how = (
            "no record of what polster generated, and polster "
            f"{result.from_version} is not installed: each file that differs is yours or "
            "polster's, never merged"
            if result.two_way
            else f"no record yet: its base is rendered with polster {result.from_version}"
        )
        typer.echo(f"  ({how})")
    width = max((len(c.status) for c in result.changes), default=0) + 2
    for change in result.changes:
        note = f"  ({change.note})" if change.note else ""
        typer.echo(f"  {change.status:<{width}}{change.rel}{note}")
    record_ops = [
        op for op in result.plan.ops if op.path == project.root / ".polster" / "generated.json"
    ]
    if record_ops:
        typer.echo(f"  {'record':<{width}}.polster/generated.json ({record_ops[0].action})")
    conflicts = result.conflicts
    differs = [c.rel for c in result.changes if c.status == "differs"]
    if dry_run:
        typer.echo("Nothing was written (--dry-run).")
        if conflicts:
            typer.echo(
                f"Applying would write conflicts into {len(conflicts)} file(s): "
                f"{', '.join(conflicts)}",
                err=True,
            )
            raise typer.Exit(EXIT_CONFLICTS)
        return
    if not result.plan.ops and not differs:
        typer.echo("Nothing to upgrade: the project is up to date.")
        return
    try:
        result.plan.apply()
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise PolsterError(
            f"{where}{exc.strerror or exc}: nothing was changed; fix that and try again"
        ) from None
    if differs:
        typer.echo(
            f"{len(differs)} file(s) differ from polster {result.to_version}'s and were left "
            "as they are, and no record was written; run `polster upgrade` in a terminal to "
            "choose file by file."
        )
    if conflicts:
        typer.echo(
            f"Conflicts in {len(conflicts)} file(s): resolve each <<<<<<< yours ... >>>>>>> "
            "block, then run `polster check` and the tests:",
            err=True,
        )
        for rel in conflicts:
            typer.echo(f"  {rel}", err=True)
        raise typer.Exit(EXIT_CONFLICTS)
    if not result.plan.ops:
        return
    typer.echo(
        "Upgraded. Review the changes (e.g. `git diff`), then run `polster check` and the tests."
    )
    say_relock(project.root, result.plan)


def _ask(rel: str, yours: str | None, new: str) -> bool:
    """Show how polster's version differs from yours and ask which to keep."""
    import difflib

    typer.echo(f"\n{rel} differs from what polster generates now:")
    diff = difflib.unified_diff(
        (yours or "").splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{rel} (yours)",
        tofile=f"{rel} (polster)",
    )
    for line in diff:
        typer.echo(line.rstrip("\n"))
    return typer.confirm(f"Take polster's version of {rel}?", default=False)


def register(app: typer.Typer) -> None:
    """Add ``upgrade`` to ``app``."""
    app.command()(upgrade)
