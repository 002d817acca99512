"""CLI commands beyond init/setup/plugins, one module per group; each adds to ``cli.app``."""


def say_relock(root, plan) -> None:
    """Bring uv.lock in step with a plan that changed pyproject.toml (``venv.relock``), and say
    so: the last line of add-asset, enable and upgrade, a warning on stderr when it could not."""
    import typer

    from ..venv import relock

    line = relock(root, plan.paths())
    if line:
        typer.echo(line, err=line.startswith("warning:"))
