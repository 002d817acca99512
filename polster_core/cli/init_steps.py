"""What ``polster init`` does after writing the project: git (a first commit, a remote, a
push), ``polster setup``, the next steps it prints and ``--start-dagster``; a failed step leaves
the project complete and says which command finishes the job.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
import typer.core

from ..exceptions import Interrupted, PolsterError, ProjectUnfinished


def finish_init(target: Path, git: bool, setup: bool, remote_url, remote, interactive: bool):
    """The steps after the files are written: git, .venv, the remote. The project stays if one
    fails or is interrupted, and the one line printed says what is there and how to finish."""
    done: list[str] = []
    step = "git"
    try:
        if git:
            from ..project.scaffold import git_init

            git_init(target)
            done.append("committed to git")
            typer.echo("Initialised a git repository with a first commit")
        step = "setup"
        if setup:
            from ..project.model import load_project
            from ..project.venv import setup as run_setup

            run_setup(load_project(target), echo=typer.echo)
            done.append("with its .venv")
            if git:
                from ..project.scaffold import git_commit_lock

                if git_commit_lock(target):
                    typer.echo("Committed uv.lock")
        step = "remote"
        if remote_url:
            from ..project.git import add_origin_and_push

            add_origin_and_push(target, remote_url, interactive)
            typer.echo(f"Pushed {target.name} to {remote_url} (origin)")
        if remote:
            create_remote_repository(remote, target, interactive)
    except (KeyboardInterrupt, PolsterError) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        if step == "remote" and not interrupted:  # its message says what is there and what to do
            raise ProjectUnfinished(str(exc)) from None
        todo = []
        if step == "git" and git:
            todo.append(
                "`git init -b main && git add -A && git commit -m 'Initial commit: polster init'`"
            )
        if setup and (step == "git" or (step == "setup" and interrupted)):
            todo.append("`polster setup`")  # a failed setup's message says so already
        if step == "remote":
            todo.append(f"`{push_command_line(target, remote_url, remote)}`")
        where = f"the project is complete in {target}{', ' if done else ''}{', '.join(done)}"
        finish = f"; to finish, run there: {', then '.join(todo)}" if todo else ""
        if interrupted:
            raise Interrupted(f"Interrupted: {where}{finish}") from None
        raise ProjectUnfinished(f"{exc}. Otherwise {where}{finish}") from None


def push_command_line(target: Path, remote_url: str | None, remote) -> str:
    """What pushes the new project when ``--remote-url``/``--create-remote`` did not finish."""
    from ..project.git import has_origin, push_commands

    if has_origin(target):
        return " && ".join(push_commands())
    if remote is not None:
        return " && ".join(remote.commands())
    return " && ".join(push_commands("URL"))


def check_remote_options(
    remote_url: str | None, create_remote: bool, git: bool, platform: str, parent: Path
) -> str | None:
    """Refuse remote options that cannot work, before anything is written."""
    from ..project.git import check_remote_url
    from ..project.scaffold import git_available, inside_git_repo

    flag = "--create-remote" if create_remote else "--remote-url"
    if create_remote and remote_url is not None:
        raise PolsterError(
            "--create-remote and --remote-url exclude each other: create the repository with "
            "the platform's CLI, or push to one that exists"
        )
    if not git:
        if not git_available():
            why = "git is not installed"
        elif inside_git_repo(parent):
            why = f"git is off by default here because {parent} is inside a git repository"
        else:
            why = "--no-git was given"
        raise PolsterError(f"{flag} needs --git ({why}): pass --git, or drop {flag}")
    if create_remote and not platform:
        raise PolsterError(
            "--create-remote needs --platform: the platform's CLI creates the repository "
            "(github: gh, gitlab: glab, azure-devops: az)"
        )
    return check_remote_url(remote_url) if remote_url is not None else None


def create_remote_repository(remote, target: Path, interactive: bool) -> None:
    """Run the platform's CLI; when it cannot, print the commands and exit non-zero."""
    from ..project.git import RemoteNotCreated, create_remote

    try:
        url = create_remote(remote, target, interactive)
    except RemoteNotCreated as exc:
        typer.echo("Create the remote repository with these commands:", err=True)
        for line in exc.commands:
            typer.echo(f"  {line}", err=True)
        raise PolsterError(
            f"{exc}; the project is complete in {target}: run the commands above"
        ) from None
    typer.echo(f"Created the remote repository with {remote.cli} and pushed main to {url}")


def next_steps(target: Path, parent: Path, set_up: bool) -> None:
    shown = target.name if parent == Path.cwd().resolve() else str(target)
    typer.echo("\nNext steps:")
    typer.echo(f"  cd {shown}")
    if not set_up:
        typer.echo("  polster setup                  # create .venv and install the project")
    typer.echo("  source .venv/bin/activate")
    typer.echo("  python src/core/bronze_example.py")
    typer.echo("  python run_polster.py           # run the whole pipeline")
    typer.echo("  python run_polster.py --ui      # open the Dagster UI on http://127.0.0.1:3000")


def start_dagster_ui(target: Path, set_up: bool) -> None:
    from ..project.venv import venv_python

    python = venv_python(target / ".venv")
    if not python.exists():
        raise PolsterError("--start-dagster needs the project's .venv: drop --no-setup")
    typer.echo("Starting the Dagster UI (Ctrl+C stops it)")
    os.chdir(target)
    command = [str(python), str(target / "run_polster.py"), "--ui"]
    os.execv(command[0], command)
