"""Rendering of the jinja2 templates shipped in ``polster_core/templates``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
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
    base = TEMPLATES / "project"
    found = []
    for path in sorted(base.rglob("*.j2")):
        rel = path.relative_to(base).as_posix()
        out = rel[: -len(".j2")]
        parts = [("." + p[len("dot_") :]) if p.startswith("dot_") else p for p in out.split("/")]
        found.append((f"project/{rel}", "/".join(parts)))
    return found
