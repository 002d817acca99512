"""``polster plugin new KIND NAME``: write a new plugin distribution (see plugin_scaffold.py).

``register(app)`` adds the ``plugin`` group to the CLI it is handed, so this module never
imports the CLI.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..exceptions import Interrupted, PolsterError
from ..project.plugin_scaffold import KINDS, new_plugin_plan

plugin_app = typer.Typer(
    help="Write Polster plugins: `polster plugin new storage NAME` and friends.",
    no_args_is_help=True,
)


@plugin_app.command("new")
def new(
    kind: str = typer.Argument(..., help=f"What the plugin offers: {', '.join(KINDS)}."),
    name: str = typer.Argument(
        ..., help="Its name, e.g. myfs: what users pass to --storage, --platform or --template."
    ),
    path: Path | None = typer.Option(
        None, "--path", help="Directory to write polster-NAME/ in (default: current)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the files, write nothing."),
) -> None:
    """Write a new plugin distribution: pyproject.toml, the module, a README and its tests."""
    from ..plugin_system.manager import get_plugins

    parent = (path or Path.cwd()).expanduser()
    if not parent.is_dir():
        raise PolsterError(f"--path {parent} is not a directory: create it first")
    made = new_plugin_plan(kind, name, parent.resolve(), get_plugins())
    typer.echo(
        ("Would create" if dry_run else "Creating")
        + f" {made.target} ({made.kind.what} '{made.name}', {len(made.plan.ops)} files):"
    )
    for line in made.plan.describe():
        typer.echo(line)
    if dry_run:
        typer.echo("Nothing was written (--dry-run).")
        return
    try:
        made.plan.apply()  # all-or-nothing
    except KeyboardInterrupt:
        raise Interrupted(
            f"Interrupted: nothing was written ({made.target} is as it was)"
        ) from None
    typer.echo("\nNext steps:")
    typer.echo(f"  cd {made.target}")
    typer.echo('  pip install -e ".[test]"     # the plugin, and what its tests need')
    typer.echo("  pytest")
    typer.echo(f"  polster plugins               # lists {made.name}")
    for line in made.kind.try_it:
        typer.echo(f"  {line.format(name=made.name)}")


def register(app: typer.Typer) -> None:
    """Add the ``plugin`` command group to ``app``."""
    app.add_typer(plugin_app, name="plugin")
