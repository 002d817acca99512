"""The one reader of a project's ``.env``: every command and the run time read it here.

``.env`` is read with python-dotenv's semantics (the file format of ``load_dotenv``, which
the generated projects used before): ``KEY=value`` lines, an optional ``export`` prefix,
single- and double-quoted values (over several lines, with escapes), ``#`` comments (inline
after whitespace), ``${VAR}`` and ``${VAR:-default}`` expansion, the environment winning over the
file, and the **last** of two lines for one setting winning. The parser is a port of
python-dotenv's own (``dotenv/parser.py``, BSD-3-Clause), so that the CLI, which does not
depend on python-dotenv, reads the file exactly as the pipeline does; ``tests`` compare the two on
tricky inputs.

A setting given twice is almost always a mistake (two people each added a line); ``polster
check`` warns about it with :func:`repeated`.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import PolsterError

NAME = ".env"

_newline = re.compile(r"(\r\n|\n|\r)")
_multiline_whitespace = re.compile(r"\s*", re.MULTILINE)
_whitespace = re.compile(r"[^\S\r\n]*")
_export = re.compile(r"(?:export[^\S\r\n]+)?")
_single_quoted_key = re.compile(r"'([^']+)'")
_unquoted_key = re.compile(r"([^=\#\s]+)")
_equal_sign = re.compile(r"(=[^\S\r\n]*)")
_single_quoted_value = re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL)
_double_quoted_value = re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL)
_unquoted_value = re.compile(r"([^\r\n]*)")
_comment = re.compile(r"(?:[^\S\r\n]*#[^\r\n]*)?")
_end_of_line = re.compile(r"[^\S\r\n]*(?:\r\n|\n|\r|$)")
_rest_of_line = re.compile(r"[^\r\n]*(?:\r|\n|\r\n)?")
_double_quote_escapes = re.compile(r"\\[\\'\"abfnrtv]")
_single_quote_escapes = re.compile(r"\\[\\']")
_variable = re.compile(r"\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}")


@dataclass(frozen=True)
class Binding:
    """One statement of the file: ``key`` (None for a blank or comment), its raw ``value``
    (None for a bare ``KEY``), the ``line`` the key is on, and whether it could not be parsed."""

    key: str | None
    value: str | None
    line: int
    error: bool = False


class _Error(Exception):
    pass


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text.removeprefix("\ufeff")
        self.chars = 0
        self.line = 1

    def has_next(self) -> bool:
        return self.chars < len(self.text)

    def peek(self, count: int) -> str:
        return self.text[self.chars : self.chars + count]

    def read_regex(self, regex: re.Pattern[str]) -> tuple[str, ...]:
        match = regex.match(self.text, self.chars)
        if match is None:
            raise _Error
        self.line += len(_newline.findall(self.text, self.chars, match.end()))
        self.chars = match.end()
        return match.groups()


def _decode_escapes(regex: re.Pattern[str], string: str) -> str:
    return regex.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"), string)


def _parse_value(reader: _Reader) -> str:
    char = reader.peek(1)
    if char == "'":
        (value,) = reader.read_regex(_single_quoted_value)
        return _decode_escapes(_single_quote_escapes, value)
    if char == '"':
        (value,) = reader.read_regex(_double_quoted_value)
        return _decode_escapes(_double_quote_escapes, value)
    if char in ("", "\n", "\r"):
        return ""
    (part,) = reader.read_regex(_unquoted_value)
    return re.sub(r"\s+#.*", "", part).rstrip()


def _parse_binding(reader: _Reader) -> Binding | None:
    line = reader.line
    try:
        reader.read_regex(_multiline_whitespace)
        if not reader.has_next():
            return None
        line = reader.line
        reader.read_regex(_export)
        char = reader.peek(1)
        if char == "#":
            key = None
        elif char == "'":
            (key,) = reader.read_regex(_single_quoted_key)
        else:
            (key,) = reader.read_regex(_unquoted_key)
        reader.read_regex(_whitespace)
        value: str | None = None
        if reader.peek(1) == "=":
            (equal_sign,) = reader.read_regex(_equal_sign)
            # `KEY= # comment` is empty; `KEY=#value` is a value.
            value = "" if len(equal_sign) > 1 and reader.peek(1) == "#" else _parse_value(reader)
        reader.read_regex(_comment)
        reader.read_regex(_end_of_line)
        return Binding(key, value, line)
    except _Error:  # as python-dotenv does: skip the rest of the line where it failed
        reader.read_regex(_rest_of_line)
        return Binding(None, None, line, error=True)


def parse(text: str) -> Iterator[Binding]:
    """Every statement of ``text``, in order (python-dotenv's ``parse_stream``)."""
    reader = _Reader(text)
    while reader.has_next():
        binding = _parse_binding(reader)
        if binding is not None:
            yield binding


def _disabled(environ: Mapping[str, str]) -> bool:
    return environ.get("PYTHON_DOTENV_DISABLED", "").casefold() in {"1", "true", "t", "yes", "y"}


def values(text: str, environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The settings of ``text``, the last of two lines winning, ``${VAR}`` expanded as
    ``load_dotenv`` does (from the environment first, then the lines above)."""
    environ = os.environ if environ is None else environ
    found: dict[str, str | None] = {}
    for binding in parse(text):
        if binding.key is None:
            continue
        value = binding.value
        if value is not None:
            scope = {**found, **environ}

            def resolve(match: re.Match[str], scope=scope) -> str:
                got = scope.get(match["name"], match["default"] or "")
                return got if got is not None else ""

            value = _variable.sub(resolve, value)
        found[binding.key] = value
    return found


def read_text(root: Path) -> str | None:
    """The text of ``root/.env``, or None when there is none; one line if it is not UTF-8."""
    path = Path(root) / NAME
    if not path.is_file():
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolsterError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"
        ) from None


def file_values(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What ``root/.env`` sets (bare ``KEY`` lines left out); {} without one."""
    environ = os.environ if environ is None else environ
    text = read_text(root)
    if text is None or _disabled(environ):
        return {}
    return {k: v for k, v in values(text, environ).items() if v is not None}


def environment(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings a project's code sees: ``environ`` (default ``os.environ``) over
    ``root/.env``, exactly what :func:`load` leaves in ``os.environ``."""
    environ = os.environ if environ is None else environ
    return {**file_values(root, environ), **environ}


def setting(root: Path, name: str, default: str = "", environ=None) -> str:
    """One setting as the project's code reads it (``Settings.get``): empty means unset."""
    return environment(root, environ).get(name) or default


def load(root: Path) -> None:
    """Load ``root/.env`` into ``os.environ`` without overriding what is already set."""
    for key, value in file_values(root).items():
        os.environ.setdefault(key, value)


def repeated(root: Path) -> list[tuple[str, list[int]]]:
    """The settings ``root/.env`` gives more than once, each with the lines it is on."""
    text = read_text(root)
    lines: dict[str, list[int]] = {}
    for binding in parse(text or ""):
        if binding.key is not None:
            lines.setdefault(binding.key, []).append(binding.line)
    return [(key, found) for key, found in lines.items() if len(found) > 1]
