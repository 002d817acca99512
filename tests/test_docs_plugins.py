"""docs/plugins.md stays in step with the code: every hook, its arguments, the spec fields."""

from __future__ import annotations

import dataclasses
import inspect
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from polster_core import hookspecs, remote
from polster_core.plugins import Plugins
from polster_core.scaffold import ProjectContext
from polster_core.specs import AssetContext, AssetTemplate, CIPlatform, Setting, StorageBackend
from polster_core.testing import ci_context

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "plugins.md"


def hook_specs() -> dict[str, str]:
    """``{hook name: "name(arg, ...)"}`` of every hook declared in hookspecs.py."""
    found = {}
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(function, "polster_spec"):
            args = ", ".join(inspect.signature(function).parameters)
            found[name] = f"{name}({args})"
    return found


def reference() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## Hook reference") :]


def test_every_hook_is_documented_with_its_arguments_and_nothing_else():
    documented = re.findall(r"^### `(\w+)\(([^)]*)\)`$", reference(), flags=re.M)
    assert {name: f"{name}({args})" for name, args in documented} == hook_specs()
    assert len(documented) == len(hook_specs())  # no hook twice


def field_table(section: str) -> list[str]:
    text = reference()
    start = text.index(f"`{section}` fields:")
    rows = re.findall(r"^\| `(\w+)` \|", text[start:].split("\n\n", 2)[1], flags=re.M)
    return rows


def typed_table(section: str) -> list[tuple[str, str, str]]:
    """``(field, type, default)`` rows of the reference's table for ``section``."""
    text = reference()
    start = text.index(f"\n`{section}` fields")
    table = text[start:].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[2].strip("`")))
    return rows


def documented_default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        return repr(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return repr(field.default_factory())
    return "required"


SPECS = [StorageBackend, Setting, CIPlatform, AssetTemplate, AssetContext, ProjectContext]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.__name__)
def test_spec_field_tables_give_every_field_with_its_type_and_default(spec):
    """Issue 14: every spec field, in order, with its type and default as the code has them."""
    rows = typed_table(spec.__name__)
    fields = dataclasses.fields(spec)
    assert [row[0] for row in rows] == [f.name for f in fields]
    for (name, kind, default), field in zip(rows, fields, strict=True):
        assert kind == field.type, name
        if spec is ProjectContext and name == "polster_version":
            assert default == "the running Polster's"
        else:
            assert default == documented_default(field), name


def test_spec_field_tables_match_the_dataclasses():
    assert field_table("StorageBackend") == [f.name for f in dataclasses.fields(StorageBackend)]
    assert field_table("Setting") == [f.name for f in dataclasses.fields(Setting)]


def test_the_guide_names_real_api():
    text = DOC.read_text(encoding="utf-8")
    for constant in ("FSSPEC", "POLARS", "UPLOAD", "RENAME"):
        assert hasattr(remote, constant) and constant in text
    for method in ("filesystem", "polars_options", "upload_options"):
        assert hasattr(remote.FsspecBackend, method) and f"def {method}(self)" in text
    # The CI platform helper fills the marked section.
    assert "<!-- polster:ci-platform-guide" in text
    assert "<!-- /polster:ci-platform-guide -->" in text


# Every python block of the guide runs (issue 14) ------------------------------------------------

BLOCK = re.compile(
    r"(?:<!-- (not standalone: [^\n]*?|continues the block above) -->\n)?```python\n(.*?)```", re.S
)


def python_blocks() -> list[tuple[int, str, str]]:
    """``(line, mark, code)`` of every python block; a block continuing the one above carries
    the code before it, so it runs as the reader's file would."""
    text = DOC.read_text(encoding="utf-8")
    blocks: list[tuple[int, str, str]] = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start(2))
        mark, code = match.group(1) or "", match.group(2)
        if mark == "continues the block above":
            assert blocks, f"line {line}: nothing above to continue"
            code = blocks[-1][2] + "\n" + code
        blocks.append((line, mark, code))
    return blocks


def test_the_guide_has_python_blocks_and_every_one_is_seen():
    text = DOC.read_text(encoding="utf-8")
    assert len(python_blocks()) == text.count("```python\n") >= 10


@pytest.mark.parametrize("line, mark, code", python_blocks(), ids=lambda v: str(v)[:12])
def test_every_python_block_of_the_guide_runs(line, mark, code, tmp_path, monkeypatch):
    """A block runs as a module of its own; the hooks it implements are registered with a
    plugin manager and called; its tests (a ``Test*`` class, ``test_*`` functions) pass under
    pytest. A block marked "not standalone: WHY" (a part of a file that imports its siblings)
    must say why, and compile."""
    source = f"{DOC.name}, line {line}"
    if mark.startswith("not standalone"):
        assert mark.split(":", 1)[1].strip(), f"{source}: say why it is not standalone"
        compile(code, source, "exec")
        return
    monkeypatch.chdir(tmp_path)
    name = f"guide_block_{line}"
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(code, source, "exec"), module.__dict__)
    hooks = [attr for attr in dir(module) if attr.startswith("polster_")]
    if hooks:
        plugins = Plugins(autoload=False)
        plugins.pm.register(module, name=name)
        plugins.storage_backends()
        plugins.ci_platforms()
        plugins.asset_templates()
        assert plugins.problems == []
        assert set(plugins.info[name].hooks if name in plugins.info else hooks) == set(hooks)
        context = ci_context("shop")
        for hook in ("polster_project_files", "polster_env_vars"):
            if hook in hooks:
                assert getattr(module, hook)(context)
    if re.search(r"^(class Test|def test_)", code, re.M):
        path = tmp_path / f"test_{name}.py"
        path.write_text(code, encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert " passed" in result.stdout
        # Only what the block says to skip: the memory backend's test of two processes.
        skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
        assert all("processes = False" in line for line in skips), skips
        assert f"{len(skips)} skipped" in result.stdout if skips else "skipped" not in result.stdout


def test_the_executor_field_table_matches_the_dataclass():
    from polster_core.specs import Executor

    assert field_table("Executor") == [f.name for f in dataclasses.fields(Executor)]


def test_every_wrapper_path_the_guide_and_the_scaffolds_give_is_the_real_one():
    """Wrappers live at src/orchestration/assets/{layer}/run_{layer}_{name}.py (issue 28)."""
    texts = {"docs/plugins.md": (REPO / "docs/plugins.md").read_text(encoding="utf-8")}
    for path in sorted((REPO / "polster_core/templates/plugin").rglob("*")):
        if path.is_file():
            texts[path.relative_to(REPO).as_posix()] = path.read_text(encoding="utf-8")
    found = 0
    for where, text in texts.items():
        for match in re.finditer(r"orchestration/assets/([{}\w]+)/([{}\w]+)\.py", text):
            layer, stem = match.groups()
            found += 1
            assert stem == "__init__" or stem.startswith("run_"), f"{where}: {match.group(0)}"
            if stem.startswith("run_") and "{" not in layer:
                assert stem.startswith(f"run_{layer}_"), f"{where}: {match.group(0)}"
    assert found >= 2


def test_the_guide_shows_polster_plugins_as_it_prints():
    """The guide's example of `polster plugins`: every built-in row as printed, and an alias."""
    from polster_core import __version__
    from polster_core.testing.projects import clean_env, run_polster

    printed = run_polster("plugins", cwd=REPO, env=clean_env()).stdout.splitlines()
    block = DOC.read_text(encoding="utf-8").split("NAME                 VERSION", 1)[1]
    example = block.split("```", 1)[0].splitlines()[1:]
    builtin = [line for line in example if " builtin " in line]
    assert builtin == [line.replace(__version__, "0.1.1") for line in printed[1:]]
    with_plugins = run_polster(
        "plugins", cwd=REPO, env=clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    ).stdout
    azdo = next(line for line in example if line.startswith("azure-devops"))
    assert (
        azdo.split()[-4:]
        == next(
            line for line in with_plugins.splitlines() if line.startswith("azure-devops")
        ).split()[-4:]
    )


def test_the_guides_partition_layout_and_sample_paths_are_the_real_ones(tmp_path):
    """The backend table gives a partition's file, the core's section its local sample
    (issue 28: the table showed only write(frame, layer, name); the sample landed at
    _samples/bronze/events/bronze/events/date=.../data.sample.parquet)."""
    from polster_core.partitions import PART, PartitionedTable, partition_layer
    from polster_core.settings import Settings
    from polster_core.storage import Storage
    from polster_core.testing import table

    text = " ".join(DOC.read_text(encoding="utf-8").split())
    rows = [row for row in text.split("| `write(frame, ")[1:] if row.startswith('"{layer}/')]
    assert len(rows) == 1, "the backend table's row of a partition's write"
    row = rows[0].split(" | ", 2)[1]
    assert "`{base}/{layer}/{name}/date=KEY/data.parquet`" in row
    assert "`data/_samples/{layer}/{name}.sample.parquet`" in text
    assert "`data/_samples/{layer}/{name}/date=KEY/data.sample.parquet`" in text

    storage = Storage(Settings(tmp_path, "demo", {"LOCAL_DATA_DIR": str(tmp_path / "data")}))
    written = PartitionedTable(storage, "bronze", "events").write(table(3), "2026-11-02")
    assert written.uri == str(tmp_path / "data/bronze/events/date=2026-11-02/data.parquet")

    class Remote(remote.FsspecBackend):  # a backend other than local: its writes leave samples
        name = "elsewhere"

        def filesystem(self):
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem(skip_instance_cache=True)

    storage._backend = Remote(str(tmp_path / "remote"))
    written = PartitionedTable(storage, "bronze", "events").write(table(3), "2026-11-02")
    sample = tmp_path / "data/_samples/bronze/events/date=2026-11-02/data.sample.parquet"
    assert written.sample_path == str(sample) and sample.is_file()
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "data/_samples").rglob("*.*")) == [
        sample.relative_to(tmp_path)
    ]
    layer = partition_layer("bronze", "events", "2026-11-02")
    assert storage.sample_path(layer, PART) == (
        tmp_path / "data/_samples/bronze/events/date=2026-11-02/data.sample.parquet"
    )
    assert storage.sample_path("bronze", "events") == (
        tmp_path / "data/_samples/bronze/events.sample.parquet"
    )


@pytest.mark.parametrize("thread_safe", [True, False])
def test_filesystem_is_called_as_the_guide_says(thread_safe):
    """ "once per backend object" (under a lock), or "once per backend object and thread" with
    thread_safe = False: four threads asking at once, twice each."""
    import threading

    from fsspec.implementations.memory import MemoryFileSystem

    guide = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "once per backend object (under a lock" in guide
    assert "`filesystem()` being called once per backend object and thread" in guide
    made: list[str] = []

    class Counted(remote.FsspecBackend):
        name = "counted"
        protocol = "memory"

        def filesystem(self):
            made.append(threading.current_thread().name)
            return MemoryFileSystem(skip_instance_cache=True)

    Counted.thread_safe = thread_safe
    backend = Counted("bucket")
    start = threading.Barrier(4)
    seen = []

    def use():
        start.wait(timeout=30)
        seen.append(backend.fs)  # the object, not its id: a dead thread's id may be reused
        seen.append(backend.fs)

    workers = [threading.Thread(target=use, name=f"w{i}") for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    if thread_safe:
        assert len(made) == 1 and len({id(fs) for fs in seen}) == 1
    else:  # one filesystem per thread, the same one each time it asks
        assert len(made) == 4 and len({id(fs) for fs in seen}) == 4
