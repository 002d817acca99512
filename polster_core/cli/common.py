"""CLI commands beyond init/setup/plugins, one module per group; each module's
``register(app)`` adds its commands to the app it is handed (``polster_core.cli.app`` calls it),
so no command module imports the CLI."""

import sys


def may_prompt(no_input: bool) -> bool:
    """Whether a command may prompt: not under ``--no-input``, and stdin is a terminal."""
    return not no_input and sys.stdin.isatty()


def choose(text: str, choices, default: str | None = None) -> str:
    """Prompt for one of ``choices``; a wrong answer asks again (click's ``Choice``)."""
    # A prompt needs click's Choice, which typer (0.29 on) does not export; importing click,
    # a second copy beside typer's own, would cost every start of the CLI.
    # lazy: only prompts need click
    import click

    return click.prompt(text, default=default, type=click.Choice(list(choices)))


def say_relock(root, plan) -> None:
    """Bring uv.lock in step with a plan that changed pyproject.toml (``venv.relock``), and say
    so: the last line of add-asset, enable and upgrade, a warning on stderr when it could not."""
    import typer

    from ..project.venv import relock

    line = relock(root, plan.paths())
    if line:
        typer.echo(line, err=line.startswith("warning:"))
