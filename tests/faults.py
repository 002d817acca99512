"""Helpers of the fault-tolerance tests (tests/test_faults.py).

A generated project whose bronze example can be told, through the environment, to produce a
large table and to tag every row with a version; a :class:`Store` per backend (local, adls on
Azurite, s3 on moto) that reads what is stored, byte for byte, and shows when a write is
under way; the pipeline started as users start it (``python run_polster.py``); and the
secrets every test hands the pipeline, each carrying one marker that must never appear
anywhere but ``.env``.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from polster_core.testing.projects import init_project, plugin_env, run_polster, set_env
from polster_core.testing.secrets import MARKER, marked

LAYERS = ("bronze", "silver", "gold")
PROJECT = "dna-platform"

AZURE_ACCOUNT = "polsterfaults"
AZURE_KEY = marked(88)
S3_KEY_ID = marked(24)
S3_SECRET = marked(40)
S3_TOKEN = marked(64)
# Every secret setting of every backend, set in .env whichever backend runs: a user who
# switches backends keeps the others' keys there.
ALL_SECRETS = {
    "ADLS_ACCOUNT_KEY": AZURE_KEY,
    "ADLS_SAS_TOKEN": f"sv=2024-08-04&sig={marked(44)}",
    "ADLS_CONNECTION_STRING": f"AccountName={AZURE_ACCOUNT};AccountKey={AZURE_KEY}",
    "S3_ACCESS_KEY_ID": S3_KEY_ID,
    "S3_SECRET_ACCESS_KEY": S3_SECRET,
    "S3_SESSION_TOKEN": S3_TOKEN,
}

# Appended to the generated bronze example: POLSTER_TEST_ROWS rows (default: the example's
# own 1,025), every row tagged with POLSTER_TEST_VERSION, and incompressible columns (32 bytes
# a row) so that a large table is large on disk too. With POLSTER_TEST_BARRIER (a folder), two runs
# meet there before extracting, so that they write at the same time.
VERSIONED = """

# Added by the fault tests: POLSTER_TEST_ROWS rows, each tagged with POLSTER_TEST_VERSION.
_example = extract


def extract():
    import os
    import time
    from pathlib import Path

    version = os.environ.get("POLSTER_TEST_VERSION", "v0")
    rows = int(os.environ.get("POLSTER_TEST_ROWS") or 0)
    barrier = os.environ.get("POLSTER_TEST_BARRIER")
    if barrier:  # wait for the other run to get here too, so that their writes overlap
        Path(barrier, version).touch()
        deadline = time.monotonic() + 120
        while len(list(Path(barrier).iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    base = _example()
    if rows:
        base = base.select(pl.all().gather(pl.int_range(rows) % base.height)).with_columns(
            event_id=pl.int_range(rows, dtype=pl.Int64),
            **{f"payload{i}": pl.int_range(rows).hash(i) for i in range(4)},
        )
    return base.with_columns(version=pl.lit(version))
"""


def make_template(parent: Path, storage: str) -> Path:
    """``polster init --storage STORAGE --platform github`` with the versioned bronze example."""
    result = run_polster(
        "init",
        PROJECT,
        "--storage",
        storage,
        "--platform",
        "github",
        "--no-git",
        "--no-setup",
        cwd=parent,
        env=plugin_env(),
    )
    if result.returncode != 0:  # a platform plugin may be missing: the CI file is optional
        project = init_project(parent, storage, PROJECT)
    else:
        project = parent / PROJECT
    core = project / "src" / "core" / "bronze_example.py"
    text = core.read_text(encoding="utf-8")
    main = text.index('\nif __name__ == "__main__":')
    core.write_text(text[:main] + VERSIONED + text[main:], encoding="utf-8")
    return project


def expected_tables(project: Path, version: str, rows: int = 0) -> dict[str, pl.DataFrame]:
    """What a run of ``version`` stores in each layer, computed by the project's own code."""
    modules = {}
    for layer in LAYERS:
        path = project / "src" / "core" / f"{layer}_example.py"
        spec = importlib.util.spec_from_file_location(f"faults_{layer}_{uuid.uuid4().hex}", path)
        modules[layer] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[layer])
    saved = {k: os.environ.get(k) for k in ("POLSTER_TEST_VERSION", "POLSTER_TEST_ROWS")}
    os.environ.update(POLSTER_TEST_VERSION=version, POLSTER_TEST_ROWS=str(rows))
    try:
        bronze = modules["bronze"].extract()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    silver = modules["silver"].transform(bronze)
    return {"bronze": bronze, "silver": silver, "gold": modules["gold"].aggregate(silver)}


@dataclass
class Store:
    """Where one test's pipeline keeps its tables, and how the test looks at them directly."""

    backend: str
    project: Path
    data: Path
    env: dict[str, str]
    server: Any = None
    bucket: str = ""
    prefix: str = ""
    proxy: Any = None
    secrets: list[str] = field(default_factory=list)
    _client: Any = field(default=None, repr=False)

    @property
    def client(self) -> Any:
        """The server's client (azure-storage-blob or boto3), made once: tests poll with it."""
        if self._client is None:
            self._client = self.server.service() if self.backend == "adls" else self.server.client()
        return self._client

    def key(self, layer: str, name: str = "example") -> str:
        return f"{self.prefix}/{layer}/{name}.parquet"

    def uri(self, layer: str) -> str:
        if self.backend == "local":
            return str(self.data / layer / "example.parquet")
        scheme = "az" if self.backend == "adls" else "s3"
        return f"{scheme}://{self.bucket}/{self.key(layer)}"

    def read_bytes(self, layer: str) -> bytes | None:
        """The stored table's bytes, straight from the store (not through Polster)."""
        if self.backend == "local":
            path = self.data / layer / "example.parquet"
            return path.read_bytes() if path.is_file() else None
        if self.backend == "adls":
            from azure.core.exceptions import ResourceNotFoundError

            blob = self.client.get_blob_client(self.bucket, self.key(layer))
            try:
                return blob.download_blob().readall()
            except ResourceNotFoundError:
                return None
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(layer))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def write_bytes(self, layer: str, data: bytes) -> None:
        """Replace the stored table's bytes behind Polster's back (to corrupt it)."""
        if self.backend == "local":
            (self.data / layer / "example.parquet").write_bytes(data)
        elif self.backend == "adls":
            blob = self.client.get_blob_client(self.bucket, self.key(layer))
            blob.upload_blob(data, overwrite=True)
        else:
            self.client.put_object(Bucket=self.bucket, Key=self.key(layer), Body=data)

    def tables(self) -> dict[str, bytes | None]:
        return {layer: self.read_bytes(layer) for layer in LAYERS}

    def frame(self, layer: str) -> pl.DataFrame:
        return pl.read_parquet(io.BytesIO(self.read_bytes(layer)))

    def listing(self) -> list[str]:
        """Every stored name: files under the data directory (temporary ones included) for
        local, every object under the prefix for a remote store."""
        if self.backend == "local":
            if not self.data.exists():
                return []
            return sorted(
                p.relative_to(self.data).as_posix() for p in self.data.rglob("*") if p.is_file()
            )
        if self.backend == "adls":
            return self.server.blob_names(self.bucket, self.prefix + "/")
        return self.server.keys(self.bucket, self.prefix + "/")

    def temp_files(self) -> list[Path]:
        """Temporary files in the local data directory (of the table or of its sample)."""
        return sorted(self.data.rglob("*.tmp")) if self.data.exists() else []

    def writing(self, layer: str) -> bool:
        """Evidence that a write of ``layer``'s table is under way right now."""
        if self.backend == "local":
            folder = self.data / layer
            try:
                return any(p.stat().st_size > 0 for p in folder.glob(".example.*.parquet.tmp"))
            except FileNotFoundError:  # the temporary file was renamed into place meanwhile
                return False
        if self.backend == "adls":
            blob = self.client.get_blob_client(self.bucket, self.key(layer))
            try:
                return len(blob.get_block_list("uncommitted")[1]) > 0
            except Exception:  # no blob yet
                return False
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket)
        return any(u["Key"] == self.key(layer) for u in uploads.get("Uploads", []))


# Rows of the "large asset" per backend: enough that its write takes about a second, and for
# s3 above s3fs's multipart threshold (two 50 MB parts), the only upload moto lets us watch.
LARGE_ROWS = {"local": 1_500_000, "adls": 1_500_000, "s3": 3_600_000}


def start_pipeline(store: Store, *args: str, **env: str) -> subprocess.Popen:
    """``python run_polster.py ARGS`` in the project, as a user runs it, in the background."""
    return subprocess.Popen(
        [sys.executable, "run_polster.py", *args],
        cwd=store.project,
        env=plugin_env(**{**store.env, **env}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def finish(process: subprocess.Popen, timeout: float = 300) -> Outcome:
    stdout, stderr = process.communicate(timeout=timeout)
    return Outcome(process.returncode, stdout, stderr)


def run_pipeline(store: Store, *args: str, **env: str) -> Outcome:
    return finish(start_pipeline(store, *args, **env))


def wait_for(evidence: Callable[[], bool], process: subprocess.Popen, timeout: float = 120) -> None:
    """Poll ``evidence()`` until it holds; fail if ``process`` ends first (it was too quick)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if evidence():
            return
        if process.poll() is not None:
            out = finish(process)
            raise AssertionError(f"the run ended before the evidence was seen:\n{out.output}")
        time.sleep(0.01)
    raise AssertionError(f"no evidence after {timeout}s")


def kill9(process: subprocess.Popen) -> Outcome:
    os.kill(process.pid, signal.SIGKILL)
    outcome = finish(process, timeout=30)
    assert outcome.returncode == -signal.SIGKILL
    return outcome


def secret_hits(store: Store, texts: list[str], extra: list[Path] = ()) -> list[str]:
    """Every place a secret shows up: files of the project (``.env`` aside) with its Dagster
    history, compute logs and CI files, the data directory, and the texts given."""
    needles = [MARKER, *store.secrets]
    hits = []
    for place in [store.project, store.data, *extra]:
        if not place.exists():
            continue
        for path in sorted(p for p in place.rglob("*") if p.is_file()):
            if path.name == ".env" and path.parent == store.project:
                continue
            data = path.read_bytes()
            if data.startswith(b"SQLite format 3"):  # Dagster's runs and event log
                data += _sqlite_text(path).encode()
            hits += [f"{path}: {n[:12]}..." for n in needles if n.encode() in data]
    for i, text in enumerate(texts):
        hits += [f"text #{i}: {n[:12]}..." for n in needles if n in text]
    return hits


def _sqlite_text(path: Path) -> str:
    """Every value in a sqlite file, as SQL: a long value spans pages, so its raw bytes may be
    split where a plain search of the file would miss it."""
    import sqlite3

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(connection.iterdump())
    except sqlite3.DatabaseError:
        return ""
    finally:
        connection.close()


def copy_project(template: Path, parent: Path) -> Path:
    project = parent / PROJECT
    shutil.copytree(template, project)
    return project


def configure(store: Store, **secret_settings: str) -> None:
    """Write the secrets into the project's ``.env``, as a user does."""
    set_env(store.project, **{**ALL_SECRETS, **secret_settings})
