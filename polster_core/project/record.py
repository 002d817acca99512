"""The generation record, ``.polster/generated.json``: what polster generated in a project.

``polster init`` writes it; ``enable``, ``add-asset``, ``remove-asset`` and ``upgrade`` keep it
in step, as one more file of the same all-or-nothing plan. It holds the Polster and plugin
versions, the answers the project was made from (name, storage, platform, the assets added
with their template and upstream assets, the example assets removed) and, for every file polster
generates, the text it generates for those answers (one JSON string per line, so that a git
diff of the record stays readable). ``.env`` is never recorded: it holds secrets.

``polster upgrade`` uses the recorded text as the *base* of its three-way merge: what the user
changed is the difference between the file on disk and the record, never guessed.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..exceptions import PolsterError
from .merge import merge3
from .record_schema import FORMAT, MAX_SIZE, NEVER_RECORDED, RECORD, Invalid, parse_json, validate

ABOUT = (
    "Written by polster: what it generated in this project, the base of `polster upgrade`'s "
    "three-way merge. Commit it; do not edit it by hand."
)


@dataclass
class Answers:
    """What a project was generated from."""

    name: str
    storage: str = "local"
    platform: str = ""
    # Assets added with `polster add-asset`, in order: {"layer", "name", "template", "deps"}.
    assets: list[dict] = field(default_factory=list)
    # Example assets (init's run_{layer}_example) removed with `polster remove-asset`.
    removed: list[str] = field(default_factory=list)
    # CI platforms enabled before ``platform``: their files are still the project's.
    other_platforms: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "storage": self.storage,
            "platform": self.platform,
            "assets": self.assets,
            "removed_examples": self.removed,
            "other_platforms": self.other_platforms,
        }

    @classmethod
    def from_json(cls, data: dict) -> Answers:
        return cls(
            name=str(data["name"]),
            storage=str(data.get("storage") or "local"),
            platform=str(data.get("platform") or ""),
            assets=[dict(a) for a in data.get("assets", [])],
            removed=[str(k) for k in data.get("removed_examples", [])],
            other_platforms=[str(p) for p in data.get("other_platforms", [])],
        )

    def set_platform(self, platform: str) -> None:
        if self.platform and self.platform != platform:
            self.other_platforms.append(self.platform)
        self.other_platforms = [p for p in dict.fromkeys(self.other_platforms) if p != platform]
        self.platform = platform

    def add_asset(
        self,
        layer: str,
        name: str,
        template: str,
        deps: list[str],
        partitions: str = "none",
        start: str = "",
        partitioned_upstream: list[str] | None = None,
    ) -> None:
        self.drop_asset(layer, name)
        asset = {"layer": layer, "name": name, "template": template, "deps": deps}
        if partitions != "none":  # unpartitioned assets keep the record's earlier shape
            asset.update(
                partitions=partitions, start=start, partitioned_upstream=partitioned_upstream or []
            )
        elif partitioned_upstream:  # it reads them whole, as add-asset rendered it
            asset["partitioned_upstream"] = list(partitioned_upstream)
        self.assets.append(asset)

    def drop_asset(self, layer: str, name: str) -> None:
        before = len(self.assets)
        self.assets = [a for a in self.assets if (a["layer"], a["name"]) != (layer, name)]
        key = f"run_{layer}_{name}"
        if len(self.assets) == before and name == "example" and key not in self.removed:
            self.removed.append(key)


@dataclass
class Record:
    answers: Answers
    files: dict[str, str]
    polster_version: str = __version__
    plugins: dict[str, str] = field(default_factory=dict)  # distribution -> version

    def dumps(self) -> str:
        data = {
            "about": ABOUT,
            "format": FORMAT,
            "polster_version": self.polster_version,
            "plugins": dict(sorted(self.plugins.items())),
            "answers": self.answers.to_json(),
            "files": {
                rel: text.splitlines(keepends=True) for rel, text in sorted(self.files.items())
            },
        }
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def loads(cls, text: str) -> Record:
        """The record in ``text``, validated as a whole against :data:`SCHEMA`; raises
        :class:`Invalid` (naming the field) for anything else."""
        data = validate(parse_json(text))
        files = {rel: "".join(v) if isinstance(v, list) else v for rel, v in data["files"].items()}
        return cls(
            answers=Answers.from_json(data["answers"]),
            files=files,
            polster_version=data.get("polster_version", ""),
            plugins=dict(data.get("plugins", {})),
        )


def read_record(root: Path) -> Record | None:
    """The project's record, or None when it has none (made before polster recorded).

    The one place the record is read: it is validated as a whole here, so every command that
    uses it (upgrade, add-asset, remove-asset, enable, check) refuses a malformed one in one
    line that names the field, before anything is written."""
    path = root / RECORD
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(info.st_mode):
            raise Invalid("the record is not a regular file (a link, a folder or a device)")
        if info.st_size > MAX_SIZE:
            raise Invalid(f"the record is {info.st_size:,} bytes, more than polster ever writes")
        return Record.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"the record is not UTF-8 text ({exc.reason} at byte {exc.start})"
    except Invalid as exc:
        problem = str(exc)
    raise PolsterError(
        f"{RECORD}: {problem}: fix it or restore it from git (`git checkout -- {RECORD}`); "
        "nothing was changed"
    ) from None


def plugin_versions(plugins) -> dict[str, str]:
    """Distribution -> version of every plugin that is not built in."""
    return {
        info.distribution: info.version
        for info in plugins.info.values()
        if info.source != "builtin" and info.distribution not in ("polster", "?")
    }


def recordable(files: dict[str, str]) -> dict[str, str]:
    return {rel: text for rel, text in files.items() if rel not in NEVER_RECORDED}


def put(plan, record: Record) -> None:
    """Add the writing of ``record`` to ``plan`` (nothing when the file says the same)."""
    text = record.dumps()
    path = plan.root / RECORD
    if not path.exists():
        plan.create(RECORD, text)
    elif path.read_text(encoding="utf-8") != text:
        plan.update(RECORD, text)


def follow(plan, plugins=None, change=None, generated: dict[str, str] | None = None) -> None:
    """Keep the record in step with ``plan``, a command's edits of an existing project.

    A file the plan creates is recorded as created; one it deletes is dropped. For a file it
    edits, the command's own edit (the difference between the file now and the file it writes)
    is applied to the recorded text, so a user's edits never enter the record. ``change(answers)``
    updates the answers; ``generated`` gives the recorded text of files the command writes in a
    layout of its own (``enable`` appends settings to ``.env.example``). A project without a
    record is left without one: ``polster upgrade`` writes its first.
    """

    record = read_record(plan.root)
    if record is None:
        return
    files = dict(record.files)
    for op in plan.ops:
        try:
            rel = op.path.relative_to(plan.root).as_posix()
        except ValueError:  # data outside the project (remove-asset --purge-data)
            continue
        if rel in NEVER_RECORDED or rel == RECORD:
            continue
        if op.action == "delete":
            files.pop(rel, None)
        elif op.action == "create" or rel not in files:
            if op.action == "create":
                files[rel] = op.content or ""
        else:
            before = op.path.read_text(encoding="utf-8")
            after = op.content or ""
            if before == files[rel]:
                files[rel] = after
            else:
                merged = merge3(before, files[rel], after, "", "")
                if not merged.conflicts:
                    files[rel] = merged.text
    for rel, text in (generated or {}).items():
        if rel in files:
            files[rel] = text
    record.files = files
    if plugins is not None:
        for dist, version in plugin_versions(plugins).items():
            record.plugins.setdefault(dist, version)
    if change is not None:
        change(record.answers)
    put(plan, record)
