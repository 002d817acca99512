"""Edits of a project's ``pyproject.toml``: requirements added by name, ``[tool.polster]`` keys
set; the user's comments, order and layout kept.

One editor for every command that changes the file (``add-asset``, ``enable``, ``upgrade``):
a requirement whose distribution the array already names is left out, names compared as
PEP 503 normalises them (:func:`requirement_name`).
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Iterable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# A PEP 508 requirement starts with the distribution's name.
_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def requirement_name(requirement: str) -> str:
    """The distribution a PEP 508 requirement names, normalised as PEP 503 says (lower case,
    runs of ``-``, ``_`` and ``.`` as one ``-``): ``Dagster_Webserver>=1.13`` ->
    ``dagster-webserver``. A string that starts with no name is returned as it is."""
    match = _NAME.match(requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement


def missing_requirements(present: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The requirements of ``wanted`` whose distribution ``present`` does not name."""
    names = {requirement_name(str(r)) for r in present}
    return [r for r in wanted if requirement_name(r) not in names]


def edit_pyproject(
    text: str,
    dependencies: Iterable[str] = (),
    dev: Iterable[str] = (),
    polster: Mapping[str, str] | None = None,
) -> str | None:
    """``pyproject.toml`` text with ``dependencies`` appended to ``[project] dependencies``,
    ``dev`` to the ``dev`` dependency group (each unless the array names its distribution
    already) and ``polster``'s keys set in ``[tool.polster]``.

    An array keeps its layout (one item a line stays so; a one-line array stays on one line);
    a new one has an item a line. The result is parsed again and must differ from ``text`` by
    exactly these changes, or ``None`` is returned (text that is not TOML, or that tomlkit
    would change elsewhere): the caller asks the user to make the change by hand.
    """
    import tomlkit  # only when a file is edited: `polster --help` stays light

    try:
        before = tomllib.loads(text)
        doc = tomlkit.parse(text)
    except Exception:  # tomllib's and tomlkit's parse errors alike
        return None
    expected = copy.deepcopy(before)
    for table, key, requirements in (
        ("project", "dependencies", list(dependencies)),
        ("dependency-groups", "dev", list(dev)),
    ):
        if not requirements:
            continue
        section = doc.setdefault(table, tomlkit.table())
        created = key not in section
        array = section.setdefault(key, tomlkit.array())
        if not isinstance(array, list):
            return None
        new = missing_requirements(array, requirements)
        if not new:
            continue
        multiline = created or "\n" in array.as_string()
        for requirement in new:
            array.append(requirement)
        if multiline:
            array.multiline(True)
        expected.setdefault(table, {}).setdefault(key, []).extend(new)
    if polster:
        table = doc.get("tool", {}).get("polster")
        if table is None:
            return None
        for key, value in polster.items():
            table[key] = value
        expected["tool"]["polster"].update(polster)
    result = tomlkit.dumps(doc)
    try:
        after = tomllib.loads(result)
    except tomllib.TOMLDecodeError:
        return None
    return result if after == expected else None
