"""A bare typer app with polster's commands and options and no work: the baseline for
`polster --help` in bench_cli.py."""

from pathlib import Path

import typer

app = typer.Typer(help="Baseline.", no_args_is_help=True, add_completion=True)  # as polster


@app.command()
def init(
    name: str | None = typer.Argument(None),
    git: bool | None = typer.Option(None, "--git/--no-git"),
    platform: str | None = typer.Option(None),
    storage: str | None = typer.Option(None),
    start_dagster: bool = typer.Option(False),
    dry_run: bool = typer.Option(False),
    setup: bool = typer.Option(True, "--setup/--no-setup"),
    path: Path | None = typer.Option(None),
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
def enable(
    name: str,
    dry_run: bool = typer.Option(False),
    force: bool = typer.Option(False),
    path: Path | None = typer.Option(None),
) -> None:
    """Enable."""


if __name__ == "__main__":
    app()
