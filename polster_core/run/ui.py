"""``run_polster.py --ui``: ``dagster dev`` (the UI and its daemon) on a checked address,
its output masked, stopped with everything it started on Ctrl+C.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from ..exceptions import (
    one_line,
)
from ..secrets import SETTINGS_CACHE, Redactor, known_secrets
from .instance import history_problem
from .masked_output import MaskingPump


def ui_address_problem(host: str, port: int) -> str | None:
    """Why the UI cannot listen on ``host:port`` (one line, with what to do), or None."""

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return (
            f"cannot resolve --host '{one_line(host)}' ({reason}): pass a name or address of "
            "this machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        )
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = port + 1 if port < 65535 else port - 1
                return f"port {port} on {host} is busy: stop what uses it, or pass --port {other}"
            if exc.errno == errno.EADDRNOTAVAIL:
                return (
                    f"{host} is not an address of this machine: pass one of its addresses, "
                    "e.g. 127.0.0.1 or 0.0.0.0"
                )
            if exc.errno in (errno.EACCES, errno.EPERM):
                return (
                    f"port {port} needs more privileges than this user has: "
                    "pass a port above 1023, e.g. --port 3000"
                )
            return f"cannot listen on {host}:{port} ({exc.strerror or exc}): pass another --port"
    return None


def start_ui(root: Path, host: str, port: int) -> int:
    """``dagster dev`` (UI + daemon) from workspace.yaml until Ctrl+C."""
    problem = ui_address_problem(host, port) or history_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    command = [
        sys.executable,
        "-m",
        "polster_core.run.dagster_dev",
        "-w",
        str(root / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]
    print(f"Dagster UI: http://{host}:{port}  (Ctrl+C stops it)", flush=True)
    preexec = default_signals if os.name != "nt" else None
    pipes, pumps = masked_pipes(root)
    process = subprocess.Popen(command, cwd=root, preexec_fn=preexec, **pipes)
    for write_end in pipes.values():
        os.close(write_end)
    for pump in pumps:
        pump.start()
    # SIGTERM (a service manager, `kill`) stops it like Ctrl+C does.
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    interrupted = False
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl+C in a terminal reaches dagster dev too; a signal sent to us alone is forwarded.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        for pump in pumps:
            pump.join(timeout=10)
    if interrupted:
        print("Interrupted: the Dagster UI and its daemon stopped", file=sys.stderr)
    return 130


def masked_pipes(root: Path) -> tuple[dict[str, int], list]:
    """When the project has secrets: pipes for the stdout and stderr of ``dagster dev`` (and
    every process it starts), read by threads that mask the secrets and pass the rest on."""

    home = Path(os.environ["DAGSTER_HOME"])
    redactor = Redactor(known_secrets(root, cache=home / SETTINGS_CACHE))
    if not redactor:
        return {}, []
    pipes, pumps = {}, []
    for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        try:
            target = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        read_end, pipes[name] = os.pipe()
        pumps.append(MaskingPump(read_end, target, None, redactor))
    return pipes, pumps


def default_signals() -> None:
    # A process started in the background of a non-interactive shell inherits an ignored
    # SIGINT, and Dagster then ignores SIGTERM too: restore the defaults for dagster dev.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt
