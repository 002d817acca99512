"""The data contract example of the generated README, AGENTS.md and docs/assets.md runs as
pasted (issue 30): the same commands and core file in all three, ruff-clean, and the run
quarantines the rows it says it does."""

from __future__ import annotations

import re

from polster_core.testing.projects import run_python

from .assets_helpers import assert_ruff_clean, new_project, polster_ok
from .helpers import REPO

FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def example(text: str) -> list[tuple[str, str]]:
    """The fenced blocks of the Data Contracts section."""
    start = text.index("Data Contracts\n")
    end = re.compile(r"\n#{2,4} ").search(text, start)
    blocks = FENCE.findall(text[start : end.start() if end else len(text)])
    return blocks


def test_the_contract_example_runs_as_pasted(tmp_path):
    project = new_project(tmp_path)
    readme = example((project / "README.md").read_text())
    agents = example((project / "AGENTS.md").read_text())
    guide = example((REPO / "docs" / "assets.md").read_text())
    assert readme == agents == guide
    (_, add), (_, core), (_, run), (_, read) = readme

    command = add.strip().split()
    assert command[0] == "polster"
    polster_ok(project, *command[1:], "--no-input")
    (project / "src" / "core" / "silver_clean_events.py").write_text(core)
    assert_ruff_clean(project)

    assert run.strip() == "python run_polster.py"
    result = run_python(project, "run_polster.py")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("contract_primary_key", "contract_email_nullability", "contract_amount_max"):
        assert f"{check} failed" in result.stdout, result.stdout

    shown = run_python(
        project, "-c", read + "\nprint('ROWS', read('silver', 'clean_events__rejected').height)"
    )
    assert shown.returncode == 0, shown.stderr
    assert "failed_rules" in shown.stdout
    assert int(shown.stdout.split("ROWS")[-1]) > 0
