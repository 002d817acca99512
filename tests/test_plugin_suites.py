"""Each plugin's tests run on their own, from the plugin's folder, as a third party's would:
``cd plugins/polster_s3 && pytest``. Their fixtures (real servers, ``make_project``) and
helpers come from ``polster_core.testing`` and its pytest plugin, never from this repository's
``tests`` package or a conftest.py above the plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polster_core.testing.projects import clean_env

from .helpers import REPO

PLUGINS = sorted(path for path in (REPO / "plugins").glob("polster_*") if (path / "tests").is_dir())

# pytest run in the plugin's folder; afterwards, every module loaded from this repository's
# tests/ (there must be none) and the rootdir pytest chose.
RUN = """
import sys

import pytest


class Rootdir:
    def pytest_collection_finish(self, session):
        print("ROOTDIR:", session.config.rootpath)


code = pytest.main(["-p", "no:cacheprovider", *sys.argv[2:]], plugins=[Rootdir()])
core = sorted(
    name
    for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").startswith(sys.argv[1])
)
print("CORE TEST MODULES:", core)
sys.exit(code)
"""


def run_in(plugin, *args: str) -> subprocess.CompletedProcess:
    env = clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None, PYTHONPATH=None)
    return subprocess.run(
        [sys.executable, "-c", RUN, str(REPO / "tests") + "/", *args],
        cwd=plugin,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_the_plugins_tests_are_collected_from_its_own_folder(plugin):
    result = run_in(plugin, "--collect-only", "-q")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"ROOTDIR: {plugin}\n" in result.stdout, out
    assert "CORE TEST MODULES: []" in result.stdout, out
    assert "PytestUnknownMarkWarning" not in out, out  # `slow` comes with Polster's plugin
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("tests/") for line in collected), out


def test_a_plugins_tests_get_real_servers_from_polsters_pytest_plugin():
    """The S3 contract's round trip, run from plugins/polster_s3: the ``moto`` fixture is
    Polster's pytest plugin's, the server real."""
    plugin = REPO / "plugins" / "polster_s3"
    result = run_in(plugin, "-q", "tests/test_s3_contract.py", "-k", "round_trip", "-rs")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "1 passed" in result.stdout, out
    assert "CORE TEST MODULES: []" in result.stdout, out
