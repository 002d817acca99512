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

import datetime as _dt
import json
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import LAYERS, __version__
from .exceptions import PolsterError
from .merge import merge3
from .names import asset_name_problem, split_asset_key, validate_project_name
from .partition_specs import DATE_PATTERN, KINDS, NONE, parse_partitions

RECORD = ".polster/generated.json"
FORMAT = 1
NEVER_RECORDED = {".env"}
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


# The schema -----------------------------------------------------------------------------------
#
# The record is committed and pulled like any file: untrusted input. It is checked here, as a
# whole, against the structure declared below, before any of it is used; every problem is one
# line that names the field (``answers.assets[2].partitions``).

MAX_DEPTH = 32  # the record's own structure is 4 levels deep
MAX_SIZE = 64 * 1024 * 1024


class Invalid(ValueError):
    """The record does not match the schema: ``str()`` names the field and what is wrong."""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else _kind(value)
    return text if len(text) <= 60 else text[:57] + '..."'


class Check:
    """One node of the schema: ``check(value, where)`` returns the value or raises Invalid."""

    def __call__(self, value: Any, where: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Check):
    """A string; ``rule(value)`` returns why it is refused, or None."""

    rule: Callable[[str], str | None] | None = None

    def __call__(self, value: Any, where: str) -> str:
        problem = self.problem(value)
        if problem:
            raise Invalid(f"{where} is {_shown(value)}, {problem}")
        return value

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused, or None."""
        if not isinstance(value, str):
            return "not a string"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "which holds a lone surrogate (\\ud800-\\udfff)"
        return self.rule(value) if self.rule else None


@dataclass(frozen=True)
class Choice(Check):
    choices: tuple[str, ...]

    def __call__(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise Invalid(f"{where} is {_shown(value)}, not one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class Const(Check):
    value: Any

    def __call__(self, value: Any, where: str) -> Any:
        if type(value) is not type(self.value) or value != self.value:
            shown = json.dumps(value) if isinstance(value, (int, float)) else _shown(value)
            raise Invalid(
                f"{where} is {shown}, not {self.value} (a record of another polster version)"
            )
        return value


@dataclass(frozen=True)
class ListOf(Check):
    item: Check

    def __call__(self, value: Any, where: str) -> list:
        if not isinstance(value, list):
            raise Invalid(f"{where} is {_kind(value)}, not a list")
        return [self.item(v, f"{where}[{i}]") for i, v in enumerate(value)]


@dataclass(frozen=True)
class MapOf(Check):
    """An object of any keys, each checked by ``key``, each value by ``value``."""

    key: Text
    value: Check

    def __call__(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise Invalid(f"{where} is {_kind(value)}, not an object")
        out = {}
        for k, v in value.items():
            at = f"{where}[{json.dumps(k, ensure_ascii=False)}]"
            problem = self.key.problem(k)
            if problem:
                raise Invalid(f"{where} names {_shown(k)}, {problem}")
            out[k] = self.value(v, at)
        return out


class Lines(Check):
    """A file's text: one string, or a list of lines (strings)."""

    def __call__(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return ListOf(Text())(value, where)
        if not isinstance(value, str):
            raise Invalid(f"{where} is {_kind(value)}, not a list of lines")
        return Text()(value, where)


@dataclass(frozen=True)
class Fields(Check):
    """An object with these keys (``required`` ones must be there), no others; ``rule(obj,
    where)`` then checks the fields together."""

    fields: dict[str, Check]
    required: tuple[str, ...] = ()
    rule: Callable[[dict, str], None] | None = None

    def __call__(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise Invalid(f"{where or 'the record'} is {_kind(value)}, not an object")
        prefix = f"{where}." if where else ""
        for key in self.required:
            if key not in value:
                raise Invalid(f"{prefix}{key} is missing")
        for key in value:
            if key not in self.fields:
                raise Invalid(
                    f"{prefix}{key} is not a field of the record (known: {', '.join(self.fields)})"
                )
        out = {key: self.fields[key](v, f"{prefix}{key}") for key, v in value.items()}
        if self.rule is not None:
            self.rule(out, where)
        return out


# The rules of single values.


def _project_name(value: str) -> str | None:

    try:
        validate_project_name(value)
    except PolsterError:
        return "not a project name polster init accepts (letters, digits, '-' and '_')"
    return None


def _asset_name(value: str) -> str | None:

    return (
        "not an asset name (lowercase letters, digits and '_')"
        if asset_name_problem(value)
        else None
    )


def _asset_key(value: str) -> str | None:

    parts = split_asset_key(value)
    if parts is None or asset_name_problem(parts[1]):
        return "not an asset key like run_bronze_orders"
    return None


_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _plain(value: str) -> str | None:
    return None if _PLAIN.match(value) else "not a plain name (letters, digits, '-', '_', '.')"


def _plain_or_empty(value: str) -> str | None:
    return None if value == "" else _plain(value)


def _short(value: str) -> str | None:
    if len(value) > 200 or any(ord(ch) < 32 for ch in value):
        return "not a short line of text"
    return None


def _example_key(value: str) -> str | None:
    if value not in {f"run_{layer}_example" for layer in LAYERS}:
        return "not an example asset's key (run_bronze_example, ...)"
    return None


def _relative_path(value: str) -> str | None:
    """A path polster may write: relative, inside the project, not .git/, .env or the record."""
    if not value or "\\" in value or any(ord(ch) < 32 for ch in value) or ":" in value:
        return "not a file path inside the project (relative, with '/')"
    parts = value.split("/")
    if value.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return "not a file path inside the project (relative, no '..')"
    if parts[0] == ".git" or value in NEVER_RECORDED or value == RECORD:
        return "a file polster never generates"
    return None


def _asset_rules(asset: dict, where: str) -> None:

    kind = asset.get("partitions", NONE)
    start = asset.get("start", "")
    # An unpartitioned asset may read partitioned upstream assets (a whole table each).
    extra = [
        key for key in asset.get("partitioned_upstream", []) if key not in asset.get("deps", [])
    ]
    if extra:
        raise Invalid(f"{where}.partitioned_upstream names {extra[0]}, which is not in its deps")
    if kind == NONE:
        if start:
            raise Invalid(f"{where}.start is set, but {where}.partitions is none")
        return
    try:
        if not DATE_PATTERN.match(start):
            raise ValueError
        _dt.date.fromisoformat(start)
    except ValueError:
        raise Invalid(
            f"{where}.start is {_shown(start)}, not a date like 2026-11-01 (YYYY-MM-DD)"
        ) from None
    try:
        parse_partitions(kind, start)
    except PolsterError as exc:
        raise Invalid(f"{where}.start is {_shown(start)}: {exc}") from None


def _partitions() -> tuple[str, ...]:

    return (*KINDS, NONE)


def _assets_rules(assets: list, where: str) -> None:
    seen = set()
    for i, asset in enumerate(assets):
        key = (asset["layer"], asset["name"])
        if key in seen:
            raise Invalid(f"{where}[{i}] repeats the asset run_{key[0]}_{key[1]}")
        seen.add(key)


@dataclass(frozen=True)
class Assets(ListOf):
    def __call__(self, value: Any, where: str) -> list:
        checked = super().__call__(value, where)
        _assets_rules(checked, where)
        return checked


ASSET = Fields(
    {
        "layer": Choice(LAYERS),
        "name": Text(_asset_name),
        "template": Text(_plain),
        "deps": ListOf(Text(_asset_key)),
        "partitions": Choice(_partitions()),
        "start": Text(),
        "partitioned_upstream": ListOf(Text(_asset_key)),
    },
    required=("layer", "name", "template"),
    rule=_asset_rules,
)

SCHEMA = Fields(
    {
        "about": Text(),
        "format": Const(FORMAT),
        "polster_version": Text(_short),
        "plugins": MapOf(Text(_plain), Text(_short)),
        "answers": Fields(
            {
                "name": Text(_project_name),
                "storage": Text(_plain),
                "platform": Text(_plain_or_empty),
                "assets": Assets(ASSET),
                "removed_examples": ListOf(Text(_example_key)),
                "other_platforms": ListOf(Text(_plain)),
            },
            required=("name",),
        ),
        "files": MapOf(
            Text(_relative_path),
            Lines(),
        ),
    },
    required=("format", "answers", "files"),
)


def validate(data: Any) -> dict:
    """``data`` (parsed JSON) checked against :data:`SCHEMA`; raises :class:`Invalid`."""
    if isinstance(data, dict) and "format" in data:  # another format: say that, not its fields
        Const(FORMAT)(data["format"], "format")
    return SCHEMA(data, "")


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,"]')


def parse_json(text: str) -> Any:
    """``text`` as JSON, refusing nesting deeper than :data:`MAX_DEPTH` before parsing (the
    json module would recurse once per level, into a RecursionError)."""
    stack: list[list] = []  # per open container: [bracket, key or index]
    last = ""
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == '"':  # a string that never ends: not JSON, json.loads stops there
            break
        if token[0] == '"':
            last = token
        elif token == ":":
            if stack and stack[-1][0] == "{":
                stack[-1][1] = last
        elif token == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
        elif token in "[{":
            stack.append([token, 0 if token == "[" else None])
            if len(stack) > MAX_DEPTH:
                raise Invalid(f"{_path(stack)} is nested more than {MAX_DEPTH} levels deep")
        elif stack:
            stack.pop()
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Invalid(f"the record is not valid JSON ({exc})") from None


def _path(stack: list[list]) -> str:
    """Where the deepest container of ``stack`` is, as ``answers.assets[0]``, cut short."""
    parts = []
    for bracket, at in stack[:-1]:
        if bracket == "[":
            parts.append(f"[{at}]")
        else:
            try:
                key = json.loads(at) if at else "?"
            except ValueError:
                key = "?"
            parts.append(f".{key}" if re.match(r"^\w+$", str(key)) else f"[{at}]")
    shown = "".join(parts[:6]).lstrip(".") + ("..." if len(parts) > 6 else "")
    return shown or "the record"
