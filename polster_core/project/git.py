"""The remote of a new project: ``--remote-url`` (add ``origin``, push) and ``--create-remote``
(the CI platform's own CLI creates the repository, then polster pushes).

Both run after the project is written and committed; a failure here never removes or changes
the project: the error (exit code 3) says what went wrong and which commands finish the job.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import PolsterError
from .ci import DEFAULT_BRANCH

PUSH = ("git", "push", "-u", "origin", DEFAULT_BRANCH)


class RemoteNotCreated(PolsterError):
    """``--create-remote`` could not finish; ``commands`` are the shell lines that would."""

    def __init__(self, message: str, commands: list[str]):
        super().__init__(message)
        self.commands = commands


def check_remote_url(url: str) -> str:
    """Refuse, before anything is written, a URL that could never be a git remote."""
    url = url.strip()
    if not url:
        raise PolsterError(
            "--remote-url is empty: give the repository's URL, e.g. "
            "git@github.com:you/name.git or https://github.com/you/name.git"
        )
    if url.startswith("-") or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise PolsterError(
            f"--remote-url {url!r} is not a repository URL (it starts with '-' or has spaces): "
            "give one like git@github.com:you/name.git"
        )
    return url


def _run(argv, root: Path, interactive: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if not interactive:
        env["GIT_TERMINAL_PROMPT"] = "0"  # fail instead of waiting for a password nobody types
    try:
        return subprocess.run(
            list(argv),
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            stdin=None if interactive else subprocess.DEVNULL,
        )
    except OSError as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


def _reason(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    fatal = [line for line in lines if line.lower().startswith(("fatal:", "error:"))]
    if fatal:
        return fatal[0].rstrip(".")
    return (lines or [f"exit code {result.returncode}"])[-1].rstrip(".")


def has_origin(root: Path) -> bool:
    return _run(["git", "remote", "get-url", "origin"], root, False).returncode == 0


def push_commands(url: str | None = None) -> list[str]:
    add = [f"git remote add origin {shlex.quote(url)}"] if url else []
    return [*add, shlex.join(PUSH)]


def add_origin_and_push(root: Path, url: str, interactive: bool = False) -> None:
    """``git remote add origin URL`` and push ``main``; on failure ``origin`` is taken away."""
    added = _run(["git", "remote", "add", "origin", url], root, interactive)
    if added.returncode != 0:
        raise PolsterError(
            f"git rejected the remote URL {url}: {_reason(added)}. The project is complete and "
            f"committed in {root}; add a remote by hand: {' && '.join(push_commands('URL'))}"
        )
    push(root, url, interactive, remove_origin_on_failure=True)


def push(root: Path, url: str, interactive: bool, remove_origin_on_failure: bool) -> None:
    pushed = _run(PUSH, root, interactive)
    if pushed.returncode == 0:
        return
    if remove_origin_on_failure:
        _run(["git", "remote", "remove", "origin"], root, False)
        fix = (
            "once the URL is right and the remote reachable, run there: "
            f"{' && '.join(push_commands('URL'))}"
        )
    else:
        fix = f"run `{shlex.join(PUSH)}` there once the remote accepts it"
    raise PolsterError(
        f"git push to {url} failed: {_reason(pushed)}. The project is complete and committed "
        f"in {root}; {fix}"
    )


@dataclass
class RemotePlan:
    """How ``--create-remote`` creates the repository for one CI platform."""

    cli: str
    create: list[str]
    login_check: tuple[str, ...]
    login_hint: tuple[str, ...]
    url_on_stdout: bool

    def commands(self) -> list[str]:
        """The shell lines that create the repository and push, as a user would type them."""
        create = shlex.join(self.create)
        if self.url_on_stdout:
            return [f'git remote add origin "$({create})"', shlex.join(PUSH)]
        return [create, shlex.join(PUSH)]

    def instructions(self, root: Path) -> list[str]:
        return [f"cd {shlex.quote(str(root))}", *self.login_hint, *self.commands()]


def remote_plan(platform, context) -> RemotePlan:
    """The platform's way of creating the remote; refuses a platform that has none."""
    argv = platform.create_remote(context) if platform.create_remote else None
    if not argv:
        raise PolsterError(
            f"CI platform {platform.name} cannot create a remote repository: create it "
            "yourself and pass --remote-url URL"
        )
    return RemotePlan(
        cli=platform.cli or argv[0],
        create=list(argv),
        login_check=tuple(platform.login_check),
        login_hint=tuple(platform.login_hint),
        url_on_stdout=platform.remote_url_on_stdout,
    )


def create_remote(plan: RemotePlan, root: Path, interactive: bool = False) -> str:
    """Create the repository with the platform's CLI, make it ``origin`` and push ``main``.

    Returns the new ``origin`` URL. Raises :class:`RemoteNotCreated` (with the commands that
    finish the job) when the CLI is missing, logged out or fails; the project is left as it is.
    """
    if shutil.which(plan.cli) is None:
        raise RemoteNotCreated(
            f"{plan.cli} is not installed, so the remote repository was not created",
            plan.instructions(root),
        )
    if plan.login_check:
        checked = _run(plan.login_check, root, False)
        if checked.returncode != 0:
            raise RemoteNotCreated(
                f"{plan.cli} is not logged in (`{shlex.join(plan.login_check)}` failed), so the "
                "remote repository was not created",
                plan.instructions(root),
            )
    created = _run(plan.create, root, interactive)
    if created.returncode != 0:
        raise RemoteNotCreated(
            f"`{shlex.join(plan.create)}` failed: {_reason(created)}", plan.instructions(root)
        )
    if not has_origin(root):
        lines = [line.strip() for line in created.stdout.splitlines() if line.strip()]
        url = lines[-1] if plan.url_on_stdout and lines else ""
        if not url:
            raise RemoteNotCreated(
                f"{plan.cli} created the repository but added no origin remote and printed no "
                "URL: add it with `git remote add origin URL`, then push",
                [f"cd {shlex.quote(str(root))}", *push_commands("URL")],
            )
        add_origin_and_push(root, check_remote_url(url), interactive)
        return url
    url = _run(["git", "remote", "get-url", "origin"], root, False).stdout.strip()
    push(root, url, interactive, remove_origin_on_failure=False)
    return url
