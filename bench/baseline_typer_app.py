"""A bare typer app with polster's commands and options and no work: the baseline for
`polster --help` in bench_cli.py."""

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Baseline.", no_args_is_help=True, add_completion=False)


@app.command()
def init(
    name: Optional[str] = typer.Argument(None),  # noqa: UP045
    git: Optional[bool] = typer.Option(None, "--git/--no-git"),  # noqa: UP045
    platform: Optional[str] = typer.Option(None),  # noqa: UP045
    storage: Optional[str] = typer.Option(None),  # noqa: UP045
    start_dagster: bool = typer.Option(False),
    dry_run: bool = typer.Option(False),
    setup: bool = typer.Option(True, "--setup/--no-setup"),
    path: Optional[Path] = typer.Option(None),  # noqa: UP045
    force: bool = typer.Option(False),
    no_input: bool = typer.Option(False),
) -> None:
    """Create a project."""


@app.command()
def setup(force: bool = typer.Option(False)) -> None:
    """Set up."""


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json")) -> None:
    """List plugins."""


@app.command()
def enable(name: str, dry_run: bool = typer.Option(False), force: bool = typer.Option(False),
           path: Optional[Path] = typer.Option(None)) -> None:  # noqa: UP045
    """Enable."""


if __name__ == "__main__":
    app()
