"""A generated project's Dagster UI, started for real and stopped by its process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from polster_core.testing.projects import clean_env
from polster_core.testing.servers import free_port


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data = json.loads(response.read())
    assert "errors" not in data, data
    return data["data"]


class UIServer:
    """`python run_polster.py [--materialize] --ui --port PORT` in its own session."""

    def __init__(self, project: Path, materialize: bool = True, env: dict | None = None):
        self.project = project
        self.port = free_port()
        args = ["--materialize"] if materialize else []
        self.log = project / f"ui-{self.port}.log"
        self._log = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "run_polster.py", *args, "--ui", "--port", str(self.port)],
            cwd=project,
            env=env or clean_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/server_info", timeout=2)
                break
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "UI did not start: " + self.log.read_text()
                time.sleep(1)
        # The code location loads after the server answers: wait for the assets.
        while time.monotonic() < deadline:
            nodes = graphql(self.port, "{ assetNodes { id } }")["assetNodes"]
            if nodes:
                return
            time.sleep(1)
        raise AssertionError("no assets in the UI: " + self.log.read_text())

    def stop(self) -> None:
        """Ctrl+C to the whole group, as a terminal sends it; SIGKILL if it hangs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def output(self) -> str:
        return self.log.read_text()
