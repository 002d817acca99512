"""Progress on long runs (issue 26, section 7): steps as they start, ``n/m`` done, and for a
backfill the partitions computed and the time left; a bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import re
import sys

import pytest

from polster_core.testing.projects import clean_env, run_python

from .assets_helpers import add, new_project, run_in_terminal

DAYS = ("--from", "2026-11-01", "--to", "2026-11-30")


@pytest.fixture(scope="module")
def backfill(tmp_path_factory):
    """A daily bronze asset whose days each take a little while, beside the examples."""
    project = new_project(tmp_path_factory.mktemp("progress"))
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    core = project / "src/core/bronze_events.py"
    text = core.read_text().replace("import polars as pl", "import time\n\nimport polars as pl", 1)
    core.write_text(
        text.replace(
            "    return pl.DataFrame(", "    time.sleep(0.05)\n    return pl.DataFrame(", 1
        )
    )
    # A secret in .env: the run's output then goes through the masking pipe, bar included.
    with (project / ".env").open("a") as env:
        env.write("\nAPI_TOKEN=progress-secret-7f3a9c\n")
    return project


def test_plain_lines_show_starts_counts_and_partitions_left(backfill):
    result = run_python(backfill, "run_polster.py", *DAYS)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "\r" not in out and "\x1b" not in out  # not a terminal: no bar
    # Each step is said as it starts, before its result.
    for name in ("run_bronze_events", "run_bronze_example", "run_gold_example"):
        assert out.index(f"  start {name}") < out.index(f"  ok    {name}")
    # Finished steps count up to the total.
    assert re.findall(r"\[(\d)/4\]\n", out) == ["1", "2", "3", "4"]
    # The backfill says how many partitions are done and about how long is left, a few times.
    done = [int(n) for n in re.findall(r"run_bronze_events\s+(\d+)/30 partitions, about", out)]
    assert 3 <= len(done) <= 10, out
    assert done == sorted(done) and done[-1] < 30


def test_a_terminal_gets_one_status_line_redrawn_in_place(backfill):
    out = _in_terminal(backfill, "run_polster.py", *DAYS)
    assert "Succeeded: 4 materialised" in out, out
    assert "  start " not in out  # starts show on the status line, not as lines
    assert re.search(r"\[-{20}\] 0/4  run_bronze_events \d+/30 partitions, about \d+s left", out)
    assert re.search(r"\[#{5}-{15}\] 1/4", out), out  # the bar fills as steps finish
    assert "\r\x1b[K" in out
    # A line that stays (a finished step, the summary) first clears the status line: what a
    # terminal shows of each line, after its last clear, is never a bar.
    for line in out.split("\n"):
        visible = line.rsplit("\r\x1b[K", 1)[-1]
        assert not re.search(r"\[[#-]{20}\]", visible), repr(line)
    assert out.rstrip().splitlines()[-1].startswith("Succeeded")
    assert "progress-secret-7f3a9c" not in out


def test_workers_report_the_backfill_too(backfill):
    result = run_python(backfill, "run_polster.py", "--workers", "2", *DAYS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"run_bronze_events\s+\d+/30 partitions, about", result.stdout)
    assert "(30 partition(s))  [" in result.stdout


def _in_terminal(project, *args: str, timeout: float = 180) -> str:
    """``python ARGS`` in ``project`` with a pseudo-terminal as its stdout and stderr."""
    code, out = run_in_terminal(
        list(args),
        project,
        [],
        env=clean_env(PYTHONPATH=str(project / "src")),
        timeout=timeout,
        program=[sys.executable],
        answer_in_terminal=False,
    )
    assert code == 0, out
    return out


def test_polster_progress_chooses_the_style(backfill):
    """The generated README's `POLSTER_PROGRESS=bar` (or `lines`) whatever the output is."""
    env = clean_env(PYTHONPATH=str(backfill / "src"), POLSTER_PROGRESS="bar")
    result = run_python(backfill, "run_polster.py", "--partition", "2026-11-02", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b[K" in result.stdout and "  start " not in result.stdout
