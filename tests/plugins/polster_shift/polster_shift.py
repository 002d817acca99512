"""A plugin that plays two releases of itself: ``SHIFT_VERSION=A`` (default) or ``B``.

Version B changes its CI file, drops one project file, adds another and changes its setting's
description (so ``.env.example`` and the README's settings table change too).
"""

import os

from polster_core import hookimpl
from polster_core.specs import CIPlatform, Setting


def _version() -> str:
    return os.environ.get("SHIFT_VERSION", "A")


def _ci(context):
    steps = ["  - run: pytest\n"]
    if _version() == "B":
        steps = ["  - run: ruff check .\n", "  - run: pytest -q\n"]
    text = f"# shift CI for {context.project_name}\non: manual\nsteps:\n" + "".join(steps)
    return {".shift-ci.yml": text}


@hookimpl
def polster_ci_platforms(register):
    register(CIPlatform(name="shift-ci", description="A CI that changes", render=_ci))


@hookimpl
def polster_project_files(context):
    if _version() == "B":
        return {"docs/shift-added.md": f"# Added in B for {context.project_name}\n"}
    return {"docs/shift-dropped.md": f"# Only in A, for {context.project_name}\nline two\n"}


@hookimpl
def polster_env_vars(context):
    description = "How far to shift" + (" (in steps, since B)" if _version() == "B" else "")
    return [Setting("SHIFT_STEPS", description, default="1")]
