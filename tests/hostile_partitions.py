"""Hostile cases of issue 25, class 3: partition keys are checked against the asset's definition.

Each key that is no partition of the asset (off the hour, an hour the clocks skip, a month 13,
a space, 300 characters), from the CLI, an example script or a range, is refused in one line
and writes nothing; ``add-asset`` refuses, and ``check`` reports, partitionings Dagster cannot
run in one job or dates it cannot represent; a refused range from a distant start date does
not list every partition since then. Collected by ``tests/hostile.py``.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from hostile import POLSTER, Case, env_for, project_of

EVENTS = "src/orchestration/assets/bronze/run_bronze_events.py"
SCRIPT = ["python", "src/core/bronze_events.py"]
RUN = ["python", "run_polster.py"]


def _polster(folder: Path, *args: str) -> None:
    subprocess.run(
        [POLSTER, *args],
        cwd=project_of(folder),
        env=env_for(folder, {}),
        capture_output=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )


def partitioned(kind: str, start: str = "2026-01-01", timezone: str = "", written=()):
    """bronze events, partitioned ``kind`` (in ``timezone``), with the partitions ``written``
    already stored by its script (the data a refused key must leave as it is)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        _polster(folder, "add-asset", "-l", "bronze", "-n", "events", "--partitions", kind,
                 "--start", start)  # fmt: skip
        if timezone:
            wrapper = project_of(folder) / EVENTS
            text = wrapper.read_text()
            wrapper.write_text(text.replace('")\n', f'", timezone="{timezone}")\n', 1))
        for key in written:
            subprocess.run(
                [sys.executable, *SCRIPT[1:], key],
                cwd=project_of(folder),
                env=env_for(folder, {}),
                capture_output=True,
                check=True,
            )

    return prepare


def edited(prepare, old: str, new: str):
    def step(folder: Path, stack: ExitStack) -> None:
        prepare(folder, stack)
        wrapper = project_of(folder) / EVENTS
        wrapper.write_text(wrapper.read_text().replace(old, new))

    return step


def cases() -> list[Case]:
    hourly = partitioned("hourly", written=["2026-11-01-01:00"])
    berlin = partitioned("hourly", timezone="Europe/Berlin", written=["2026-03-29-03:00"])
    daily = partitioned("daily", written=["2026-11-02"])
    add = ["polster", "add-asset", "--no-input"]
    return [
        Case("partition: off the hour", [*RUN, "--partition", "2026-11-01-00:30"], prepare=hourly),
        Case(
            "partition: --from off the hour",
            [*RUN, "--from", "2026-11-01-00:30", "--to", "2026-11-01-03:00"],
            prepare=hourly,
        ),
        Case(
            "partition: an hour Europe/Berlin skips",
            [*RUN, "--partition", "2026-03-29-02:00"],
            prepare=berlin,
        ),
        Case("script partition: month 13", [*SCRIPT, "2026-13-45"], prepare=daily),
        Case("script partition: 'a b'", [*SCRIPT, "a b"], prepare=daily),
        Case(
            "script partition: 300 characters (no empty folder)",
            [*SCRIPT, "k" * 300],
            prepare=partitioned("daily"),
        ),
        Case("script partition: newline", [*SCRIPT, "2026-11-02\n"], prepare=daily),
        Case("script partition: off the hour", [*SCRIPT, "2026-11-01-00:30"], prepare=hourly),
        Case(
            "script partition: an hour Europe/Berlin skips",
            [*SCRIPT, "2026-03-29-02:00"],
            prepare=berlin,
        ),
        Case("script partition: not complete yet", [*SCRIPT, "2999-01-01"], prepare=daily),
        Case(
            "partition: a range off the hour from the year 1000 (not listed from the start)",
            [*RUN, "--from", "2026-11-01-00:00", "--to", "2026-11-01-00:30"],
            prepare=partitioned("hourly", start="1000-01-01"),
        ),
        Case(
            "add-asset: an hourly asset beside a daily one",
            [*add, "-l", "bronze", "-n", "hits", "--partitions", "hourly"],
            prepare=daily,
        ),
        Case(
            "add-asset: silver --start later than its daily upstream",
            [*add, "-l", "silver", "-n", "x", "--deps", "events", "--start", "2026-06-01"],
            prepare=daily,
        ),
        Case(
            "add-asset: silver --start earlier than its daily upstream",
            [*add, "-l", "silver", "-n", "x", "--deps", "events", "--start", "2025-06-01"],
            prepare=daily,
        ),
        Case(
            "add-asset: --start 9999-12-31",
            [*add, "-l", "bronze", "-n", "x", "--partitions", "daily", "--start", "9999-12-31"],
        ),
        Case(
            "add-asset: --start 0001-01-01",
            [*add, "-l", "bronze", "-n", "x", "--partitions", "hourly", "--start", "0001-01-01"],
        ),
        Case(
            "check: start_date 9999-12-31 by hand",
            ["polster", "check"],
            prepare=edited(daily, '"2026-01-01"', '"9999-12-31"'),
        ),
        Case(
            "run: start_date 9999-12-31 by hand",
            RUN,
            prepare=edited(daily, '"2026-01-01"', '"9999-12-31"'),
        ),
        Case(
            "check: a daily asset beside an hourly one by hand",
            ["polster", "check"],
            prepare=_beside_hourly,
        ),
    ]


def _beside_hourly(folder: Path, stack: ExitStack) -> None:
    """A daily asset added, then a teammate's hourly one beside it (by hand: add-asset refuses)."""
    partitioned("daily")(folder, stack)
    _polster(folder, "add-asset", "-l", "bronze", "-n", "hits")
    root = project_of(folder)
    events = (root / EVENTS).read_text()
    hits = root / "src/orchestration/assets/bronze/run_bronze_hits.py"
    hits.write_text(
        events.replace("run_bronze_events", "run_bronze_hits")
        .replace("bronze_events", "bronze_hits")
        .replace("DailyPartitionsDefinition", "HourlyPartitionsDefinition")
        .replace('"2026-01-01"', '"2026-01-01-00:00"')
    )
