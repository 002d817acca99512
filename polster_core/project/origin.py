"""Where an installed distribution came from: its PEP 610 ``direct_url.json``, read in one place.

``polster setup`` installs a project's polster and plugins from where the running ones came
from (:func:`polster_core.project.venv.source_requirement`), and ``polster enable`` installs a
missing plugin from where polster came from (:func:`polster_core.project.plugin_install.
plugin_source`). Both read the answer here. File-only: no Dagster, polars or cloud SDK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class Origin:
    """How a distribution was installed: from a package index (``kind`` "index", also when
    its ``direct_url.json`` is missing or unreadable), a local folder ("dir", ``editable`` or
    not), an archive ("archive": a wheel or sdist, a file or a URL) or a VCS URL ("vcs")."""

    name: str
    version: str
    kind: str
    url: str = ""
    local: str | None = None  # the path of a file:// URL, unquoted
    editable: bool = False
    vcs: str = ""  # "git", ...
    commit: str = ""


def origin(dist_name: str) -> Origin | None:
    """Where the installed ``dist_name`` came from; ``None`` when it is not installed (e.g.
    polster running from a source tree on ``PYTHONPATH``)."""
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return None
    version = dist.version
    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        info = {}
    if not isinstance(info, dict):
        info = {}
    url = str(info.get("url", ""))
    parsed = urlparse(url)
    local = unquote(parsed.path) if parsed.scheme == "file" and parsed.path else None
    if isinstance(info.get("dir_info"), dict):
        editable = bool(info["dir_info"].get("editable"))
        return Origin(dist_name, version, "dir", url, local, editable=editable)
    if "archive_info" in info:
        return Origin(dist_name, version, "archive", url, local)
    if isinstance(info.get("vcs_info"), dict):
        vcs = info["vcs_info"]
        return Origin(
            dist_name,
            version,
            "vcs",
            url,
            local,
            vcs=str(vcs.get("vcs", "")),
            commit=str(vcs.get("commit_id", "")),
        )
    return Origin(dist_name, version, "index")
