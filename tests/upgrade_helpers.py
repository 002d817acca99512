"""Two "releases" of Polster for the upgrade tests: version A is the installed templates;
version B is a template overlay (``POLSTER_TEMPLATE_DIR``) that changes a core file,
``run_polster.py``, ``.gitignore``, the README and the default bronze asset template, and adds a
file; the test plugin ``polster_shift`` (``SHIFT_VERSION``) changes its CI file and setting,
drops one file and adds another."""

from __future__ import annotations

from pathlib import Path

from polster_core.project.render import TEMPLATES

# (template, text in A, text in B): each B edit, one replacement per template.
B_EDITS = [
    (
        "project/run_polster.py.j2",
        'VENV = ROOT / ".venv"\n',
        'VENV = ROOT / ".venv"\nTEMPLATE_RELEASE = "B"  # changed by polster B\n',
    ),
    (
        "project/src/core/settings.py.j2",
        'PROJECT_NAME = "{{ project_name }}"\n',
        'PROJECT_NAME = "{{ project_name }}"\nSETTINGS_RELEASE = "B"\n',
    ),
    ("project/dot_gitignore.j2", ".ruff_cache/\n", ".ruff_cache/\n.mypy_cache/\n"),
    (
        "project/README.md.j2",
        "polster setup --force  # Force recreation even if .venv exists\n",
        "polster setup --force  # Force recreation even if .venv exists (release B)\n",
    ),
    (
        "assets/default_bronze.py.j2",
        '    """Load the raw records (sample rows until you connect the real source)."""\n',
        '    """Load the raw records (release B: sample rows until the real source)."""\n',
    ),
]
B_ADDED = {"project/NEWS.md.j2": "# News of {{ project_name }}\n\nReleased with B.\n"}
# Lines each B edit adds, as they appear in a generated file.
B_LINES = {
    "run_polster.py": 'TEMPLATE_RELEASE = "B"  # changed by polster B\n',
    "src/core/settings.py": 'SETTINGS_RELEASE = "B"\n',
    ".gitignore": ".mypy_cache/\n",
    "README.md": "polster setup --force  # Force recreation even if .venv exists (release B)\n",
}


def make_overlay(directory: Path) -> Path:
    """Write version B's template overlay into ``directory``; return it."""
    for template, before, after in B_EDITS:
        text = (TEMPLATES / template).read_text(encoding="utf-8")
        assert text.count(before) == 1, f"{template} no longer holds {before!r}: update the test"
        target = directory / template
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace(before, after), encoding="utf-8")
    for template, text in B_ADDED.items():
        target = directory / template
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return directory


def edit(path: Path, before: str, after: str) -> None:
    """Replace ``before`` (present exactly once) with ``after`` in ``path``, as a user would."""
    text = path.read_text(encoding="utf-8")
    assert text.count(before) == 1, f"{path.name} does not hold {before!r} once"
    path.write_text(text.replace(before, after), encoding="utf-8")
