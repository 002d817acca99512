"""Finding plugins without importlib.metadata (polster_core.plugin_system.discovery): the same
entry points importlib.metadata finds, and a `polster --help` that loads neither it, pluggy's
manager, the built-ins nor a second copy of click (issue 27: the --help start-up figure)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from polster_core.testing.projects import clean_env, run_polster

from .helpers import with_plugins


def found_by_both(env: dict, cwd: Path) -> tuple[list, list]:
    """(importlib.metadata's, discovery's) entry points of the group polster, as tuples."""
    code = (
        "import json\n"
        "from importlib.metadata import entry_points\n"
        "from polster_core.plugin_system.discovery import entry_points as ours\n"
        "std = sorted((e.name, e.value, e.dist.name, e.dist.version)\n"
        "             for e in entry_points(group='polster'))\n"
        "mine = sorted((e.name, e.value, e.distribution, e.version) for e in ours())\n"
        "print(json.dumps([std, mine]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    std, mine = json.loads(done.stdout)
    return [tuple(e) for e in std], [tuple(e) for e in mine]


def test_the_same_entry_points_as_importlib_metadata(tmp_path, broken_site):
    env = with_plugins(broken_site)
    std, mine = found_by_both(env, tmp_path)
    names = {name for name, *_ in mine}
    assert {"hello", "broken"} <= names, mine
    assert mine == std


def test_the_first_distribution_of_a_name_on_the_path_wins(tmp_path, hello_site):
    # A second copy of polster-hello later on the path, with another entry point value: like
    # importlib.metadata, only the first one counts.
    later = tmp_path / "later"
    info = later / "polster_hello-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: polster-hello\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text("[polster]\nhello = polster_hello_other\n")
    env = clean_env(PYTHONPATH=f"{hello_site}:{later}", POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    std, mine = found_by_both(env, tmp_path)
    assert ("hello", "polster_hello", "polster-hello", "0.3.0") in mine
    assert not [e for e in mine if e[3] == "9.9"]
    assert mine == std


def test_a_plugin_in_a_zip_archive_on_the_path_is_found(tmp_path):
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("polster_zipped.py", "VALUE = 1\n")
        zf.writestr(
            "polster_zipped-1.2.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: polster-zipped\nVersion: 1.2\n",
        )
        zf.writestr("polster_zipped-1.2.dist-info/entry_points.txt", "[polster]\nzipped = x\n")
    env = clean_env(PYTHONPATH=str(archive), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    std, mine = found_by_both(env, tmp_path)
    assert ("zipped", "x", "polster-zipped", "1.2") in mine
    assert mine == std


def test_help_loads_only_what_it_needs(tmp_path, broken_site):
    """`polster --help` names a plugin that fails to import (so it imports the plugins, and
    pluggy for their marker), but loads no importlib.metadata, no plugin manager, no built-in
    plugin and no second copy of click."""
    code = (
        "import sys\n"
        "from polster_core.entry import main\n"
        "sys.argv = ['polster', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "# Typer before 0.29 imports click itself; from 0.29 on it has its own copy.\n"
        "own = ('click',) if 'typer._click' in sys.modules else ()\n"
        "loaded = [m for m in ('importlib.metadata', *own,\n"
        "          'polster_core.plugin_system.manager', 'polster_core.builtin.local_storage',\n"
        "          'polster_hello') if m in sys.modules]\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    env = with_plugins(broken_site)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert "Usage" in done.stdout, done.stderr
    assert "plugin 'broken' (polster-broken) failed to load" in done.stderr
    # The plugins themselves are imported (that is how a broken one is found); nothing else.
    assert "LOADED ['polster_hello']" in done.stderr, done.stderr
    # And a command that uses the plugins still finds them all.
    listed = run_polster("plugins", cwd=tmp_path, env=env)
    assert "hello " in listed.stdout and "FAILED" in listed.stdout


def test_bad_plugin_metadata_never_takes_the_cli_down(tmp_path, hello_site):
    """Metadata a broken install can leave: an entry_points.txt line without '=', one that is
    not UTF-8, no METADATA at all, a value that is no module path. Each is skipped or named
    in one line; polster and the good plugin keep working, --help and commands alike."""
    site = tmp_path / "site"

    def dist(name: str, entry_points: bytes, metadata: bool = True) -> None:
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"  # as installers name it
        info.mkdir(parents=True)
        if metadata:
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_bytes(entry_points)

    dist("polster-noequals", b"[polster]\njust-a-name\n")
    dist("polster-latin1", b"[polster]\nlatin = polster_caf\xe9\n")
    dist("polster-nometa", b"[polster]\nnometa = polster_nometa_missing\n", metadata=False)
    dist("polster-badvalue", b"[polster]\nbadvalue = not a module!\n")
    env = clean_env(PYTHONPATH=f"{site}:{hello_site}", POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    listed = run_polster("plugins", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert "hello " in listed.stdout
    failed = [line for line in listed.stderr.splitlines() if "failed to load" in line]
    assert len(failed) == 2, listed.stderr
    assert "plugin 'nometa' (?) failed to load" in failed[0] + failed[1]
    assert "plugin 'badvalue' (polster-badvalue) failed to load" in failed[0] + failed[1]
    shown = run_polster("--help", cwd=tmp_path, env=env)
    assert shown.returncode == 0 and "Usage" in shown.stdout
    assert [line for line in shown.stderr.splitlines() if "failed to load" in line] == failed
