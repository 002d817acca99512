"""One home for "can this Python run pip" (polster_core.project.hints.has_pip): the hint a
message gives (``install_command``) and ``polster enable``'s plugin install both ask it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from polster_core.project.hints import has_pip, install_command


def test_a_venv_without_pip_has_none_and_one_with_pip_has_it(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    assert has_pip(bare / "bin" / "python") is False
    # The interpreter this venv was made from has pip (pyenv's, python.org's ...), when it does.
    base = Path(sys._base_executable)
    with_pip = subprocess.run([str(base), "-c", "import pip"], capture_output=True).returncode
    assert has_pip(base) is (with_pip == 0)
    assert has_pip(tmp_path / "no-such-python") is False


def test_the_hint_names_the_installer_this_python_has():
    # The dev environment is made by uv: no pip in it, so the hint is uv's, for this Python.
    hint = install_command("polster-adls")
    if has_pip():
        assert hint.endswith("-m pip install polster-adls")
    else:
        assert hint.startswith("uv pip install polster-adls --python ")
