"""Where polster came from (PEP 610 direct_url.json, polster_core.project.origin): what
``polster setup`` installs a project's polster from (venv.source_requirement) and what
``polster enable`` installs a missing plugin from (plugin_install.plugin_source) read the same
answer. A fake ``polster`` distribution first on the path plays each kind of install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polster_core.testing.projects import clean_env


def installed_as(site: Path, direct_url: str | None, version: str = "0.1.1") -> Path:
    info = site / f"polster-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: polster\nVersion: {version}\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(direct_url)
    return site


def answers(site: Path, cwd: Path) -> dict:
    """source_requirement('polster') and plugin_source('polster-adls'), run with ``site``
    first on the path (a process of its own: importlib.metadata reads the path once)."""
    code = (
        "import json\n"
        "from polster_core.project.plugin_install import plugin_source\n"
        "from polster_core.project.venv import source_requirement\n"
        "print(json.dumps({'setup': source_requirement('polster'),\n"
        "                  'enable': plugin_source('polster-adls')}))\n"
    )
    env = clean_env(PYTHONPATH=str(site))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("editable", [True, False])
def test_from_a_checkout(tmp_path, editable):
    checkout = tmp_path / "my repo"  # a space: the URL is quoted, the path is not
    plugin = checkout / "plugins" / "polster_adls"
    plugin.mkdir(parents=True)
    (plugin / "pyproject.toml").write_text("[project]\nname = 'polster-adls'\n")
    url = checkout.as_uri()
    site = installed_as(
        tmp_path / "site", json.dumps({"url": url, "dir_info": {"editable": editable}})
    )
    got = answers(site, tmp_path)
    flag = ["-e"] if editable else []
    assert got == {"setup": [*flag, str(checkout)], "enable": [*flag, str(plugin)]}


def test_from_a_wheel_with_the_plugin_beside_it(tmp_path):
    wheels = tmp_path / "dist"
    wheels.mkdir()
    own = wheels / "polster-0.1.1-py3-none-any.whl"
    beside = wheels / "polster_adls-0.1.1-py3-none-any.whl"
    own.write_bytes(b"")
    beside.write_bytes(b"")
    site = installed_as(
        tmp_path / "site", json.dumps({"url": own.as_uri(), "archive_info": {"hashes": {}}})
    )
    assert answers(site, tmp_path) == {"setup": [str(own)], "enable": [str(beside)]}


def test_from_a_git_commit(tmp_path):
    url = "https://example.com/team/polster.git"
    direct = {"url": url, "vcs_info": {"vcs": "git", "commit_id": "0123abcd"}}
    site = installed_as(tmp_path / "site", json.dumps(direct))
    assert answers(site, tmp_path) == {
        "setup": [f"polster @ git+{url}@0123abcd"],
        "enable": [f"polster-adls @ git+{url}@0123abcd#subdirectory=plugins/polster_adls"],
    }


@pytest.mark.parametrize("direct_url", [None, "{not json", "[1, 2]"])
def test_from_the_index_or_an_unreadable_record(tmp_path, direct_url):
    # No direct_url.json: installed from an index. One that is not a PEP 610 record is read
    # as that too (it used to end both commands with a JSON traceback).
    site = installed_as(tmp_path / "site", direct_url, version="0.4.2")
    got = answers(site, tmp_path)
    assert got["setup"] == ["polster==0.4.2"]
    assert got["enable"] == ["polster-adls>=0.4.2,<0.5"], got
