"""Structural edits of a layer's registry, ``src/orchestration/assets/{layer}/__init__.py``.

A registry imports each asset's wrapper (``from .run_x import run_x``) and lists it in
``__all__``. Edits find those statements with :mod:`ast` and rewrite only their own lines, so
docstrings, comments and anything else a user wrote survive. Imports are kept in the order
ruff's isort uses; every result is parsed again and checked before it is returned.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ..exceptions import PolsterError

_RUNS = re.compile(r"\d+|\D")


def natural_key(text: str) -> tuple:
    """Sort key of ruff's isort order: case-insensitive, runs of digits compared as numbers.

    A run of digits sorts where its first digit would among other characters (digits sit
    together in ASCII), and against another run by its value: ``cust9 < cust10 < cust_2``.
    """
    return tuple(
        (48, int(run)) if run[0].isdigit() else (ord(run),) for run in _RUNS.findall(text.lower())
    )


def _natural_cmp(a: str, b: str) -> int:
    ka, kb = natural_key(a), natural_key(b)
    return (ka > kb) - (ka < kb)


@dataclass
class Registration:
    """One name imported by a relative import of the registry."""

    name: str  # the name the registry binds (what Dagster sees)
    module: str  # the module it comes from, without the leading dot
    original: str  # the name imported from that module
    node: ast.ImportFrom


@dataclass
class Registry:
    """What a registry file registers, as read from its syntax tree."""

    text: str
    registrations: list[Registration] = field(default_factory=list)
    all_names: list[str] | None = None  # None: no plain `__all__ = [...]` list
    all_node: ast.Assign | None = None
    all_is_dynamic: bool = False  # `__all__` exists but is not a list of strings
    error: str | None = None  # the syntax error, if the file does not parse

    @classmethod
    def parse(cls, text: str) -> Registry:
        registry = cls(text)
        try:
            tree = ast.parse(text)
        except SyntaxError as exc:
            registry.error = f"syntax error on line {exc.lineno}: {exc.msg}"
            return registry
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                for alias in node.names:
                    if node.module.startswith("run_") or alias.name.startswith("run_"):
                        registry.registrations.append(
                            Registration(alias.asname or alias.name, node.module, alias.name, node)
                        )
            elif _assigns_all(node):
                value = node.value
                if isinstance(value, (ast.List, ast.Tuple)) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
                ):
                    registry.all_node = node
                    registry.all_names = [e.value for e in value.elts]
                else:
                    registry.all_is_dynamic = True
        return registry

    @property
    def names(self) -> list[str]:
        """Every registered name, in file order (duplicates kept)."""
        return [r.name for r in self.registrations]

    def is_conventional(self, registration: Registration) -> bool:
        return registration.name == registration.module == registration.original


def _assigns_all(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "__all__"
    )


def import_statement(key: str, line_length: int) -> str:
    """``from .run_x import run_x``, wrapped as ruff formats it when the line is too long."""
    line = f"from .{key} import {key}"
    if len(line) <= line_length:
        return line + "\n"
    return f"from .{key} import (\n    {key},\n)\n"


def all_statement(names: list[str], line_length: int) -> str:
    return "__all__ = " + _render_list(names, line_length, len("__all__ = ")) + "\n"


def _render_list(names: list[str], line_length: int, prefix: int) -> str:
    inline = "[" + ", ".join(f'"{n}"' for n in names) + "]"
    if not names or prefix + len(inline) <= line_length:
        return inline
    return "[\n" + "".join(f'    "{n}",\n' for n in names) + "]"


def new_registry(layer: str, project_name: str, keys: list[str], line_length: int = 100) -> str:
    """The text of a registry for ``keys``, as ``polster init`` writes it."""
    head = (
        f'"""{layer.capitalize()} assets of {project_name}.\n\n'
        "`polster add-asset` and `polster remove-asset` keep the imports and `__all__` below in "
        "step;\nedits by hand are fine too (`polster check` reports any drift).\n"
        '"""\n\n'
    )
    ordered = sorted(keys, key=natural_key)
    imports = "".join(import_statement(k, line_length) for k in ordered)
    return head + imports + ("\n" if imports else "") + all_statement(ordered, line_length)


class _Lines:
    """The file as a list of lines (each with its newline), edited by line numbers."""

    def __init__(self, text: str):
        self.lines = text.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"

    def text(self) -> str:
        return "".join(self.lines)


def _is_blank(line: str) -> bool:
    return not line.strip()


def _check_alone(tree_text: str, node: ast.stmt) -> None:
    """Refuse to rewrite a statement that shares its lines with another one (``a; b``)."""
    lines = tree_text.splitlines()
    first = lines[node.lineno - 1].encode()
    last = lines[node.end_lineno - 1].encode()
    if first[: node.col_offset].strip() or last[node.end_col_offset :].split(b"#")[0].strip(
        b" ;\t"
    ):
        raise _Refused("a registration shares its line with other code")


class _Refused(Exception):
    pass


def add_registration(text: str, key: str, line_length: int = 100) -> str:
    """``text`` with ``key`` imported and listed in ``__all__`` (unchanged if it already is)."""
    registry = Registry.parse(text)
    _usable(registry)
    expected = set(registry.names) | {key}
    result = text
    if key not in registry.names:
        result = _insert_import(registry, key, line_length)
        registry = Registry.parse(result)
    if registry.all_names is None:
        result = _append_all(result, sorted(set(registry.names), key=natural_key), line_length)
    elif key not in registry.all_names:
        result = _edit_all(registry, add=key, line_length=line_length)
    return _verified(result, expected, key, adding=True)


def remove_registration(text: str, key: str, line_length: int = 100) -> str:
    """``text`` without the import of ``key`` and without its ``__all__`` entry."""
    registry = Registry.parse(text)
    _usable(registry)
    expected = set(registry.names) - {key}
    lines = _Lines(text)
    targets = [r for r in registry.registrations if r.name == key]
    for registration in sorted(targets, key=lambda r: r.node.lineno, reverse=True):
        node = registration.node
        _guard(text, node)
        others = [a for a in node.names if (a.asname or a.name) != key]
        start, end = node.lineno - 1, node.end_lineno
        if others:
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in others)
            line = f"from .{node.module} import {names}"
            if len(line) > line_length:
                line = (
                    f"from .{node.module} import (\n"
                    + "".join(
                        f"    {a.name}{f' as {a.asname}' if a.asname else ''},\n" for a in others
                    )
                    + ")"
                )
            lines.lines[start:end] = [line + "\n"]
        else:
            del lines.lines[start:end]
            _collapse_blank(lines.lines, start)
    result = lines.text()
    registry = Registry.parse(result)
    if registry.error:
        raise _fail(key, "the edit would break the file", adding=False)
    if registry.all_names is not None and key in registry.all_names:
        result = _edit_all(registry, remove=key, line_length=line_length)
    return _verified(result, expected, key, adding=False)


def _usable(registry: Registry) -> None:
    if registry.error:
        raise PolsterError(f"it has a {registry.error}: fix it, then run the command again")
    if registry.all_is_dynamic:
        raise PolsterError(
            "its `__all__` is not a plain list of names: make it one, or edit the file by hand"
        )


def _guard(text: str, node: ast.stmt) -> None:
    try:
        _check_alone(text, node)
    except _Refused as exc:
        raise PolsterError(f"{exc}: put each import on its own line, then retry") from None


def _insert_import(registry: Registry, key: str, line_length: int) -> str:
    lines = _Lines(registry.text)
    statement = import_statement(key, line_length)
    relative = [r for r in registry.registrations if r.module.startswith("run_")]
    after = [r for r in relative if _natural_cmp(r.module, key) > 0]
    if after:
        node = min((r.node for r in after), key=lambda n: n.lineno)
        _guard(registry.text, node)
        index = node.lineno - 1
        # Keep a comment that sits right above that import attached to it; isort wants a
        # blank line before such a comment.
        block = [statement]
        while index > 0 and lines.lines[index - 1].lstrip().startswith("#"):
            index -= 1
            block = [statement, "\n"]
        lines.lines[index:index] = block
        return lines.text()
    if relative:
        node = max((r.node for r in relative), key=lambda n: n.end_lineno)
        _guard(registry.text, node)
        lines.lines[node.end_lineno : node.end_lineno] = [statement]
        return lines.text()
    # No asset imported yet: after the other imports, else after the docstring, else on top.
    tree = ast.parse(registry.text)
    body = list(tree.body)
    imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    block = [statement]
    if imports:
        anchor = imports[-1]
        index = anchor.end_lineno
        if not (isinstance(anchor, ast.ImportFrom) and anchor.level):
            block.insert(0, "\n")  # a section of its own after absolute imports (isort)
    elif body and _is_docstring(body[0]):
        index = body[0].end_lineno
        if index < len(lines.lines) and _is_blank(lines.lines[index]):
            index += 1
        else:
            block.insert(0, "\n")
    else:
        index = 0
    if index < len(lines.lines) and not _is_blank(lines.lines[index]):
        block.append("\n")
    lines.lines[index:index] = block
    return lines.text()


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _append_all(text: str, names: list[str], line_length: int) -> str:
    lines = _Lines(text)
    while lines.lines and _is_blank(lines.lines[-1]):
        lines.lines.pop()
    if lines.lines:
        lines.lines.append("\n")
    lines.lines.append(all_statement(names, line_length))
    return lines.text()


def _edit_all(
    registry: Registry, line_length: int, add: str | None = None, remove: str | None = None
) -> str:
    node = registry.all_node
    assert node is not None and registry.all_names is not None
    _guard(registry.text, node)
    value = node.value
    names = [n for n in registry.all_names if n != remove]
    if add is not None:
        position = next((i for i, n in enumerate(names) if _natural_cmp(n, add) > 0), len(names))
        names.insert(position, add)
    lines = _Lines(registry.text)
    elts = value.elts
    one_per_line = (
        value.lineno != value.end_lineno
        and len(elts) > 0
        and len({e.lineno for e in elts}) == len(elts)
        and all(e.lineno == e.end_lineno for e in elts)
        and all(e.lineno not in (value.lineno, value.end_lineno) for e in elts)
        and all(_element_line(lines.lines[e.lineno - 1], e.value) for e in elts)
    )
    if one_per_line and names:
        indent = re.match(r"\s*", lines.lines[elts[0].lineno - 1]).group(0)
        if remove is not None:
            for e in elts:
                if e.value == remove:
                    del lines.lines[e.lineno - 1]
        else:
            before = next((e for e in elts if _natural_cmp(e.value, add) > 0), None)
            index = before.lineno - 1 if before else elts[-1].lineno
            lines.lines[index:index] = [f'{indent}"{add}",\n']
        return lines.text()
    # Rewrite the whole statement (a one-line list, or one laid out in some other way).
    first = lines.lines[node.lineno - 1]
    last = lines.lines[node.end_lineno - 1]
    head = first.encode()[: node.col_offset].decode()
    tail = last.encode()[node.end_col_offset :].decode()
    statement = all_statement(names, line_length).rstrip("\n")
    if isinstance(value, ast.Tuple):
        inner = statement[len("__all__ = [") : -1]
        if len(names) == 1 and not inner.endswith("\n"):
            inner += ","
        statement = "__all__ = (" + inner + ")"
    lines.lines[node.lineno - 1 : node.end_lineno] = [head + statement + tail]
    return lines.text()


def _element_line(line: str, name: str) -> bool:
    code = line.split("#", 1)[0].strip()
    return code in (f'"{name}",', f"'{name}',", f'"{name}"', f"'{name}'")


def _collapse_blank(lines: list[str], index: int) -> None:
    """After deleting lines at ``index``, leave no more blank lines there than before."""
    if 0 < index < len(lines) and _is_blank(lines[index - 1]) and _is_blank(lines[index]):
        del lines[index]
    while len(lines) > 1 and _is_blank(lines[-1]):
        lines.pop()


def _fail(key: str, why: str, adding: bool) -> PolsterError:
    what = (
        f'add `from .{key} import {key}` and "{key}" to `__all__`'
        if adding
        else (f'remove `from .{key} import {key}` and "{key}" from `__all__`')
    )
    return PolsterError(f"{why}: {what} by hand")


def _verified(result: str, expected: set[str], key: str, adding: bool) -> str:
    registry = Registry.parse(result)
    if registry.error:
        raise _fail(key, "the edit would break the file", adding)
    if set(registry.names) != expected:
        raise _fail(key, "the edit did not give the expected imports", adding)
    if registry.all_names is not None and (key in registry.all_names) != adding:
        raise _fail(key, "the edit did not give the expected `__all__`", adding)
    return result
