"""``polster check``'s half of data contracts: a contract column the transform no longer
produces, found without running anything (``ast`` only; no polars, no dataframely).

What the transform produces is known when the frame it returns ends in a ``select(...)`` of
columns named in the code (``"a"``, ``pl.col("a")``, ``expr.alias("a")``, ``a=expr``),
followed only by calls that keep, add (``with_columns``), drop or rename named columns, or
keep the columns as they are (``filter``, ``sort``, ``unique``, ...). Anything else (a join, a
``pipe``, a column chosen at run time) and nothing is reported: the write checks it then.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .contract_code import POLICIES
from .graph import Problem

# Calls that return the frame's columns unchanged.
KEEPING = {
    "filter", "sort", "unique", "head", "tail", "limit", "slice", "drop_nulls", "fill_null",
    "fill_nan", "collect", "lazy", "cast", "shrink_to_fit", "rechunk", "reverse", "sample",
    "cache", "set_sorted", "clone", "top_k", "bottom_k", "shift", "gather_every",
}  # fmt: skip


def contract_problems(root: Path) -> list:
    """One Problem per contract column its core file's transform cannot produce."""

    problems = []
    core = root / "src" / "core"
    if not core.is_dir():
        return problems
    for path in sorted(core.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue  # reported elsewhere (the definitions do not load)
        rel = path.relative_to(root).as_posix()
        problems += policy_problems(tree, rel)
        contract = contract_columns(tree)
        if not contract:
            continue
        produced, line = produced_columns(tree)
        if produced is None:
            continue
        for column, at in contract.items():
            if column not in produced:
                shown = ", ".join(produced) or "no column"
                problems.append(
                    Problem(
                        f"{rel}:{at}",
                        f"contract column '{column}' is not produced by the transform (line "
                        f"{line} returns {shown}): drop it from Contract, or produce it",
                        "contract",
                    )
                )
    return problems


def policy_problems(tree: ast.Module, rel: str) -> list:
    """A ``CONTRACT_POLICY = ...`` of the module whose value is a constant Polster does not
    know (any other value is checked when the table is written)."""
    found = []
    for node in tree.body:
        if not (
            isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant)
        ):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        named = any(isinstance(t, ast.Name) and t.id == "CONTRACT_POLICY" for t in targets)
        if named and node.value.value not in POLICIES:
            shown = repr(node.value.value)
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            found.append(
                Problem(
                    f"{rel}:{node.lineno}",
                    f"CONTRACT_POLICY is {shown}: set it to one of {', '.join(POLICIES)}",
                    "contract",
                )
            )
    return found


def contract_columns(tree: ast.Module) -> dict[str, int]:
    """``{column: line}`` of ``class Contract(dy.Schema)`` (a column's alias when it has one)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Contract":
            found = {}
            for item in node.body:
                if not (isinstance(item, ast.Assign) and len(item.targets) == 1):
                    continue
                target, value = item.targets[0], item.value
                if not (isinstance(target, ast.Name) and isinstance(value, ast.Call)):
                    continue
                name = target.id
                for keyword in value.keywords:
                    if keyword.arg == "alias" and isinstance(keyword.value, ast.Constant):
                        name = str(keyword.value.value)
                found[name] = item.lineno
            return found
    return {}


def produced_columns(tree: ast.Module) -> tuple[list[str] | None, int]:
    """The columns the module's ``transform`` returns, when the code names them all."""
    function = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "transform"), None
    )
    if function is None:
        return None, 0
    returns = [n for n in ast.walk(function) if isinstance(n, ast.Return) and n.value]
    if len(returns) != 1:
        return None, 0
    return _columns(returns[0].value), returns[0].lineno


def _columns(node: ast.expr) -> list[str] | None:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    method = node.func.attr
    if method == "select":
        return _named(node)
    before = _columns(node.func.value)
    if before is None:
        return None
    if method in KEEPING:
        return before
    if method == "with_columns":
        added = _named(node)
        return None if added is None else before + [c for c in added if c not in before]
    if method == "drop":
        dropped = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if len(dropped) != len(node.args) or node.keywords:
            return None
        return [c for c in before if c not in dropped]
    if method == "rename" and len(node.args) == 1 and isinstance(node.args[0], ast.Dict):
        mapping = node.args[0]
        if not all(isinstance(k, ast.Constant) for k in mapping.keys):
            return None
        if not all(isinstance(v, ast.Constant) for v in mapping.values):
            return None
        renamed = {k.value: v.value for k, v in zip(mapping.keys, mapping.values, strict=True)}
        return [renamed.get(c, c) for c in before]
    return None


def _named(call: ast.Call) -> list[str] | None:
    """The output names of ``select(...)``/``with_columns(...)`` arguments, when all are known."""
    names = []
    for arg in call.args:
        name = _output_name(arg)
        if name is None:
            return None
        names.append(name)
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        names.append(keyword.arg)
    return names


def _output_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    if node.func.attr == "alias" and node.args and isinstance(node.args[0], ast.Constant):
        return str(node.args[0].value)
    if node.func.attr == "col" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        # pl.col("^regex$") and pl.col("*") select columns chosen at run time.
        if isinstance(value, str) and not value.startswith("^") and value != "*":
            return value
        return None
    # An expression on one column keeps its name: pl.col("a").str.to_lowercase()
    inner = node.func.value
    while isinstance(inner, ast.Attribute):
        inner = inner.value
    if isinstance(inner, ast.Call) and node.func.attr not in ("alias", "name"):
        return _output_name(inner)
    return None
