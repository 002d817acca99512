"""Structural edits of a layer's `__init__.py`: what survives, what ruff says of the result."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from polster_core.errors import PolsterError
from polster_core.project.registry import (
    Registry,
    add_registration,
    natural_key,
    new_registry,
    remove_registration,
)

from .assets_helpers import ruff

RUFF_CONFIG = """\
[tool.ruff]
line-length = 100
target-version = "py310"
[tool.ruff.lint]
select = ["E", "F", "I", "UP", "B"]
"""

GENERATED = new_registry("bronze", "shop", ["run_bronze_example"])


def keys(text: str) -> list[str]:
    return Registry.parse(text).names


def all_names(text: str) -> list[str]:
    return Registry.parse(text).all_names


@pytest.fixture
def ruff_dir(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text(RUFF_CONFIG)
    (tmp_path / "pkg").mkdir()
    return tmp_path


def assert_ruff_accepts(ruff_dir: Path, text: str) -> None:
    path = ruff_dir / "pkg" / "__init__.py"
    path.write_text(text)
    lint = ruff(ruff_dir, "check", "--no-cache", "pkg")
    assert lint.returncode == 0, lint.stdout + "\n" + text
    fmt = ruff(ruff_dir, "format", "--no-cache", "--check", "--diff", "pkg")
    assert fmt.returncode == 0, fmt.stdout + "\n" + text


def test_sorting_matches_ruff_isort(ruff_dir):
    names = ["cust", "customers", "cust_2", "cust10", "cust9", "a_b", "ab", "a1", "a", "x" * 40]
    shuffled = names[:]
    random.Random(3).shuffle(shuffled)
    text = GENERATED
    for name in shuffled:
        text = add_registration(text, f"run_bronze_{name}")
    assert_ruff_accepts(ruff_dir, text)  # the imports are in isort's order
    imported = [n.module for n in ast.parse(text).body if isinstance(n, ast.ImportFrom)]
    assert imported == sorted(imported, key=natural_key)
    assert "run_bronze_cust9" in imported[imported.index("run_bronze_cust") + 1]


def test_add_then_remove_gives_back_the_same_text():
    text = add_registration(GENERATED, "run_bronze_orders")
    assert keys(text) == ["run_bronze_example", "run_bronze_orders"]
    assert remove_registration(text, "run_bronze_orders") == GENERATED


def test_adding_twice_changes_nothing():
    text = add_registration(GENERATED, "run_bronze_orders")
    assert add_registration(text, "run_bronze_orders") == text


def test_comments_docstring_and_user_code_survive(ruff_dir):
    text = (
        '"""My assets."""\n\n'
        "import logging\n\n"
        "# legacy feed, remove in March\n"
        "from .run_bronze_legacy import run_bronze_legacy\n"
        "from .run_bronze_zeta import run_bronze_zeta  # noisy\n\n"
        "log = logging.getLogger(__name__)\n\n"
        "__all__ = [\n"
        '    "run_bronze_legacy",  # keep for the finance team\n'
        '    "run_bronze_zeta",\n'
        "]\n"
    )
    added = add_registration(text, "run_bronze_alpha")
    assert added.index("from .run_bronze_alpha") < added.index("# legacy feed")
    assert "# keep for the finance team" in added and "# noisy" in added
    assert "log = logging.getLogger(__name__)" in added
    assert_ruff_accepts(ruff_dir, added)
    removed = remove_registration(added, "run_bronze_zeta")
    assert "zeta" not in removed
    assert "# legacy feed, remove in March" in removed
    assert "# keep for the finance team" in removed
    assert_ruff_accepts(ruff_dir, removed)
    assert (
        remove_registration(add_registration(text, "run_bronze_alpha"), "run_bronze_alpha") == text
    )


def test_long_names_are_wrapped_as_ruff_formats_them(ruff_dir):
    key = "run_silver_" + "n" * 40
    text = add_registration(new_registry("silver", "shop", []), key)
    assert f"from .{key} import (\n    {key},\n)\n" in text
    assert_ruff_accepts(ruff_dir, text)
    assert remove_registration(text, key) == new_registry("silver", "shop", [])


def test_all_grows_from_one_line_to_one_name_per_line(ruff_dir):
    text = GENERATED
    for i in range(6):
        text = add_registration(text, f"run_bronze_source_{i}")
        assert_ruff_accepts(ruff_dir, text)
    assert '__all__ = [\n    "run_bronze_example",\n' in text
    for i in range(6):
        text = remove_registration(text, f"run_bronze_source_{i}")
        assert_ruff_accepts(ruff_dir, text)
    assert all_names(text) == ["run_bronze_example"]


def test_a_missing_all_is_created_and_a_tuple_is_kept_a_tuple(ruff_dir):
    text = '"""Assets."""\n\nfrom .run_bronze_a import run_bronze_a\n'
    added = add_registration(text, "run_bronze_b")
    assert added.endswith('\n__all__ = ["run_bronze_a", "run_bronze_b"]\n')
    assert_ruff_accepts(ruff_dir, added)
    tuple_text = (
        '"""Assets."""\n\nfrom .run_bronze_a import run_bronze_a\n\n__all__ = ("run_bronze_a",)\n'
    )
    added = add_registration(tuple_text, "run_bronze_b")
    assert '__all__ = ("run_bronze_a", "run_bronze_b")' in added
    assert remove_registration(added, "run_bronze_b") == tuple_text


def test_an_empty_registry_gets_its_first_import_after_the_docstring(ruff_dir):
    empty = new_registry("gold", "shop", [])
    text = add_registration(empty, "run_gold_kpis")
    assert text == new_registry("gold", "shop", ["run_gold_kpis"])
    assert_ruff_accepts(ruff_dir, text)
    bare = add_registration("", "run_gold_kpis")
    assert keys(bare) == ["run_gold_kpis"] and all_names(bare) == ["run_gold_kpis"]
    assert_ruff_accepts(ruff_dir, bare)
    with_import = add_registration('"""Doc."""\n\nimport os\n\nX = os.sep\n', "run_gold_kpis")
    assert "import os\n\nfrom .run_gold_kpis import run_gold_kpis\n\nX = os.sep\n" in with_import
    assert_ruff_accepts(ruff_dir, with_import)


def test_one_of_several_names_in_an_import_is_removed():
    text = (
        "from .run_bronze_a import run_bronze_a, run_bronze_b\n\n"
        '__all__ = ["run_bronze_a", "run_bronze_b"]\n'
    )
    removed = remove_registration(text, "run_bronze_b")
    assert removed == 'from .run_bronze_a import run_bronze_a\n\n__all__ = ["run_bronze_a"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from .run_bronze_a import run_bronze_a\n__all__ = names()\n", "not a plain list"),
        ("def broken(:\n", "syntax error"),
    ],
)
def test_files_that_cannot_be_edited_safely_are_refused(text, message):
    with pytest.raises(PolsterError, match=message):
        add_registration(text, "run_bronze_b")


def test_a_registration_sharing_its_line_is_refused():
    text = "from .run_bronze_a import run_bronze_a; X = 1\n\n__all__ = ['run_bronze_a']\n"
    with pytest.raises(PolsterError, match="shares its line"):
        remove_registration(text, "run_bronze_a")
