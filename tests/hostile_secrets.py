"""Hostile cases of issue 25, class 4 (secrets in every output) and class 6 (a run stopped by
Ctrl+C or SIGTERM): collected by ``tests/hostile.py``.

Each secret case checks, beyond the one line, that no part of the secret was printed. The api
template's script talks to a local HTTP server (started by the case, on a free port) that
answers 500; the URL passwords with a raw ``@`` need no server (libpq and the broker check
refuse them first). The interrupt cases signal ``run_polster.py`` while its first asset
waits, and expect exit code 130.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import threading
from contextlib import ExitStack
from pathlib import Path

from hostile import POLSTER, Case, Unavailable, edit, env_for, free_port, project_of

TOKEN = "HostileToken4711xyz"
REDIRECTED = "RedirectedToken4711xyz"
PASSWORD_TAIL = "Passw0rdQ4711"  # what follows the raw "@" of a password


class _Api(http.server.BaseHTTPRequestHandler):
    """500 for everything; /redirect first sends the client to a URL with a key; the reason
    phrase repeats the bearer token it was sent."""

    def do_GET(self):
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", f"/data?key={REDIRECTED}")
            self.end_headers()
            return
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        self.send_response(500, f"rejected token {sent}" if sent else None)
        self.end_headers()

    def log_message(self, *args):
        pass


def api_asset(path: str, token: bool = False):
    """Adds a bronze asset of the api template, and points it at a server of the case's own."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        project = project_of(folder)
        added = subprocess.run(
            [POLSTER, "add-asset", "-l", "bronze", "-n", "orders", "-t", "api"],
            cwd=project,
            env=env_for(folder, {}),
            capture_output=True,
            text=True,
        )
        if added.returncode != 0:
            raise Unavailable(f"add-asset --template api failed: {added.stderr.strip()}")
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        lines = [f"BRONZE_ORDERS_API_URL={url}"] + ([f"BRONZE_ORDERS_API_TOKEN={TOKEN}"] * token)
        env = project / ".env"
        env.write_text(env.read_text(encoding="utf-8") + "\n".join(lines) + "\n", "utf-8")

    return prepare


def never_shows(*secrets: str):
    def check(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
        shown = [s for s in secrets if s in result.stdout + result.stderr]
        return [f"printed {', '.join(shown)}"] if shown else []

    return check


def needs(module: str):
    def prepare(folder: Path, stack: ExitStack) -> None:
        try:
            __import__(module)
        except ImportError:
            raise Unavailable(f"{module} is not installed") from None

    return prepare


# The bronze example waits (told so by the environment) once it said so: the signal comes then.
WAIT = edit(
    "src/core/bronze_example.py",
    '    """Load raw customer events (a generated sample, duplicates and gaps included)."""\n',
    '    """Load raw customer events (a generated sample, duplicates and gaps included)."""\n'
    "    import os, time\n\n"
    '    if os.environ.get("HOSTILE_WAIT"):\n'
    '        print("waiting for a signal", flush=True)\n'
    "        time.sleep(120)\n",
)


def signalled(how: signal.Signals, group: bool):
    """Runs the command; sends ``how`` (to its process group, as a terminal does, or to it
    alone) once the first asset waits."""

    def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**env, "HOSTILE_WAIT": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        out = ""
        try:
            while "waiting for a signal" not in out:
                line = process.stdout.readline()
                if not line:
                    break
                out += line
            if process.poll() is None:
                if group:
                    os.killpg(process.pid, how)
                else:
                    process.send_signal(how)
            rest, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return subprocess.CompletedProcess(command, process.returncode, out + rest, err)

    return run


def cases() -> list[Case]:
    run = ["python", "run_polster.py"]
    script = ["python", "src/core/bronze_orders.py"]
    found = [
        Case(
            "api script: token in the URL's query",
            script,
            prepare=api_asset(f"/data?key={TOKEN}&page=1"),
            check=never_shows(TOKEN),
        ),
        Case(
            "api script: token added by a redirect",
            script,
            prepare=api_asset("/redirect"),
            check=never_shows(REDIRECTED),
        ),
        Case(
            "api script: bearer token echoed by the server",
            script,
            prepare=api_asset("/data", token=True),
            check=never_shows(TOKEN),
        ),
        Case(
            "run: PostgreSQL password with a raw @",
            run,
            env={
                "DAGSTER_POSTGRES_URL": (
                    f"postgresql://postgres:x@{PASSWORD_TAIL}@127.0.0.1:{free_port()}/postgres"
                )
            },
            prepare=needs("psycopg2"),
            check=never_shows(PASSWORD_TAIL),
        ),
        Case(
            "run: Redis broker password with a raw @",
            [*run, "--executor", "celery"],
            env={
                "POLSTER_DISABLE_PLUGIN_AUTOLOAD": None,
                "POLSTER_SHARED_DISK": "true",
                "CELERY_BROKER_URL": f"redis://:x@{PASSWORD_TAIL}@127.0.0.1:{free_port()}/0",
            },
            prepare=needs("polster_celery"),
            check=never_shows(PASSWORD_TAIL),
        ),
    ]
    for label, how, group in [
        ("Ctrl+C", signal.SIGINT, True),
        ("SIGTERM", signal.SIGTERM, False),
    ]:
        for workers in ([], ["--workers", "2"]):
            found.append(
                Case(
                    f"run {' '.join(workers) or 'in one process'}: {label}",
                    [*run, *workers],
                    prepare=WAIT,
                    exit_code=130,
                    run=signalled(how, group),
                )
            )
    return found
