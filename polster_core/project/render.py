"""Rendering of the jinja2 templates shipped in ``polster_core/templates``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

# polster_core/templates (this module is polster_core/project/render.py)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# A directory laid out like ``templates/`` whose files win over the shipped ones; the test
# suite uses it to play "a later Polster" for ``polster upgrade``. Not for users.
OVERLAY_ENV = "POLSTER_TEMPLATE_DIR"


def _overlay() -> str:
    return os.environ.get(OVERLAY_ENV, "")


def environment():
    return _environment(_overlay())


@lru_cache(maxsize=4)
def _environment(overlay: str):
    import jinja2

    paths = [overlay, str(TEMPLATES)] if overlay else [str(TEMPLATES)]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(paths),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    text = environment().get_template(template).render(**context)
    return text.rstrip("\n") + "\n"


def project_templates() -> list[tuple[str, str]]:
    """``(template name, output path)`` of every file in ``templates/project``."""
    bases = [TEMPLATES / "project"]
    if _overlay():
        bases.insert(0, Path(_overlay()) / "project")
    names = {p.relative_to(b).as_posix() for b in bases if b.is_dir() for p in b.rglob("*.j2")}
    found = []
    for rel in sorted(names):
        out = rel[: -len(".j2")]
        parts = [("." + p[len("dot_") :]) if p.startswith("dot_") else p for p in out.split("/")]
        found.append((f"project/{rel}", "/".join(parts)))
    return found
