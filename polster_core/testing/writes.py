"""Kill a write part-way: a subprocess writes a large table and is SIGKILLed mid-upload.

For storage backend tests, Polster's and plugin authors' alike (the pipeline contract of
:mod:`.pipeline` uses it).

``kill_mid_write`` returns once the writer is dead; the caller then checks that the previous
version is still readable (with ``partition``, the write is one partition of the partitioned
table ``bronze/big``, and the other partitions must stay readable too). The kill waits for
proof that the write is under way (a temporary file, an open multipart upload, uncommitted
blocks): a kill before or after would prove nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Big enough for a multipart / block upload (S3 parts of 50 MB, Azure blocks above 64 MB).
ROWS = 12_000_000

WRITER = """
import sys
from pathlib import Path

import polars as pl
from polster_core.plugins import Plugins
from polster_core.settings import Settings
from polster_core.storage import Storage

import os
root, rows, lazy = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "lazy"
partition = sys.argv[4] if len(sys.argv) > 4 else None
storage = Storage(Settings(root, "demo", dict(os.environ)), plugins=Plugins(autoload=True))
big = pl.select(
    id=pl.int_range(rows),
    x=(pl.int_range(rows).hash(1) % 1_000_003) / 7.0,
    label=pl.format("row-{}", pl.int_range(rows).hash(2) % 100_000),
)
print("WRITING", flush=True)
if partition is None:
    storage.write(big.lazy() if lazy else big, "bronze", "big")
else:
    from polster_core.partitions import PartitionedTable

    PartitionedTable(storage, "bronze", "big").write(big.lazy() if lazy else big, partition)
print("DONE", flush=True)
"""


def big_table(rows: int):
    import polars as pl

    return pl.select(
        id=pl.int_range(rows),
        x=(pl.int_range(rows).hash(1) % 1_000_003) / 7.0,
        label=pl.format("row-{}", pl.int_range(rows).hash(2) % 100_000),
    )


def kill_mid_write(
    root: Path,
    env: dict[str, str],
    under_way: Callable[[], bool],
    timeout: float = 120,
    lazy: bool = False,
    rows: int = ROWS,
    partition: str | None = None,
) -> str:
    """Start the writer, SIGKILL it once ``under_way()`` is true; return what it printed.

    With ``lazy`` the table is written as a LazyFrame (streamed, or staged on local disk);
    with ``partition`` it is that partition of the partitioned table ``bronze/big``."""
    argv = [sys.executable, "-c", WRITER, str(root), str(rows), "lazy" if lazy else "eager"]
    process = subprocess.Popen(
        argv + ([partition] if partition else []),
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.strip() == "WRITING", line + process.stderr.read()
        deadline = time.monotonic() + timeout
        seen = False
        while time.monotonic() < deadline and process.poll() is None:
            if under_way():
                seen = True
                break
            time.sleep(0.01)
        assert seen, "the write finished (or failed) before it was seen under way"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        out = process.stdout.read()
        assert process.returncode == -signal.SIGKILL
        assert "DONE" not in out
        return out
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
