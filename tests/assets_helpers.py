"""Helpers of the asset command tests: projects, the real CLI in a terminal, ruff, plugins."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

from polster_core.testing.projects import BIN, POLSTER, clean_env, init_project, run_polster

HERE = Path(__file__).parent


def new_project(parent: Path, name: str = "shop", allow_same_layer: bool = False) -> Path:
    """A project made by the real `polster init` (no venv, no git)."""
    parent.mkdir(parents=True, exist_ok=True)
    project = init_project(parent, name=name)
    if allow_same_layer:
        set_same_layer(project, True)
    return project


def set_same_layer(project: Path, allow: bool) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    for old in ("allow_same_layer_deps = false", "allow_same_layer_deps = true"):
        text = text.replace(old, f"allow_same_layer_deps = {'true' if allow else 'false'}")
    pyproject.write_text(text)


def polster_ok(project: Path, *args: str, env: dict | None = None) -> str:
    result = run_polster(*args, cwd=project, env=env)
    assert result.returncode == 0, f"polster {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def add(project: Path, layer: str, name: str, *more: str) -> str:
    return polster_ok(project, "add-asset", "--layer", layer, "--name", name, *more)


def ruff(project: Path, *args: str) -> subprocess.CompletedProcess:
    """ruff with the generated project's own configuration (its pyproject.toml)."""
    return subprocess.run(
        [str(BIN / "ruff"), *args], cwd=project, capture_output=True, text=True, timeout=120
    )


def assert_ruff_clean(project: Path, where: str = ".") -> None:
    lint = ruff(project, "check", "--no-cache", where)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = ruff(project, "format", "--no-cache", "--check", "--diff", where)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def run_in_terminal(
    args: list[str],
    cwd: Path,
    answers: list[str],
    env: dict | None = None,
    timeout: float = 60,
    program: list[str] | None = None,
    answer_in_terminal: bool = True,
) -> tuple[int, str]:
    """Run ``PROGRAM ARGS`` (default: ``polster ARGS``) with a pseudo-terminal as its stdout
    and stderr, and as its stdin too unless ``answer_in_terminal`` is False (then stdin is
    empty), answering each prompt: (exit code, what the terminal showed).

    An answer is sent when the output so far ends with a prompt (`: ` or `]: `), so the
    command sees a real terminal and answers arrive one question at a time.
    """
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [*(program or [POLSTER]), *args],
        cwd=cwd,
        env=env or clean_env(),
        stdin=slave if answer_in_terminal else subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    asked_at = 0
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            text = output.decode(errors="replace").rstrip(" ")
            waiting = text.endswith((":", "]:", "?")) and len(output) > asked_at
            if pending and waiting and not ready:
                os.write(master, (pending.pop(0) + "\n").encode())
                asked_at = len(output)
            if process.poll() is not None and not ready:
                break
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return process.returncode, output.decode(errors="replace").replace("\r\n", "\n")


def install_plugin(target: Path, name: str) -> Path:
    """Install a test plugin package (tests/plugins/NAME) into ``target`` with uv."""
    subprocess.run(
        [
            str(BIN / "uv"),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(HERE / "plugins" / name),
        ],
        check=True,
    )
    return target
