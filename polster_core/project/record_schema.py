"""The declared schema of ``.polster/generated.json`` (:data:`SCHEMA`) and its one validator:
a teammate commits the record, so everything in it is checked here before any command uses it
(types, sizes, names, paths inside the project, partition rules).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import LAYERS
from ..exceptions import PolsterError
from .names import asset_name_problem, split_asset_key, validate_project_name
from .partition_specs import DATE_PATTERN, KINDS, NONE, parse_partitions
from .table_spec import COLUMN, spec_problem

RECORD = ".polster/generated.json"


FORMAT = 1


NEVER_RECORDED = {".env"}


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


def _table_rules(asset: dict, where: str) -> None:
    """An incremental asset's fields (issue 29) agree with each other and its partitions."""
    fields = ("incremental", "unique_key", "on_schema_change", "hard_deletes")
    if asset.get("format", "parquet") != "delta":
        extra = [f for f in fields if f in asset]
        if extra:
            raise Invalid(f"{where}.{extra[0]} is set, but {where}.format is not delta")
        return
    problem = spec_problem(
        asset.get("incremental", ""),
        tuple(asset.get("unique_key", ())),
        asset.get("on_schema_change", "fail"),
        asset.get("hard_deletes", "ignore"),
    )
    if problem:
        raise Invalid(f"{where}: {problem.split(':')[0]}")
    if asset.get("incremental") == "snapshot" and asset.get("partitions", "none") != "none":
        raise Invalid(f"{where}.incremental is snapshot, which cannot be partitioned")


def _column(value: str) -> str | None:
    return None if COLUMN.match(value) else "not a column name (letters, digits and _)"


def _asset_rules(asset: dict, where: str) -> None:

    _table_rules(asset, where)

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
        # Delta Lake tables (issue 29): see polster_core/run/delta.py.
        "format": Choice(("parquet", "delta")),
        "incremental": Choice(("merge", "append", "delete+insert", "snapshot")),
        "unique_key": ListOf(Text(_column)),
        "on_schema_change": Choice(("fail", "append_new_columns")),
        "hard_deletes": Choice(("ignore", "invalidate", "new_record")),
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
