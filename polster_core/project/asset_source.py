"""What an asset's files say, read with ``ast`` (never imported): its ``@asset`` function,
its upstream assets (parameters, ``ins``, ``deps``), the ``core`` names its wrapper imports and
the names a module defines.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE_DIR = "src/core"


def _is_asset_decorator(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr == "asset"
    return isinstance(node, ast.Name) and node.id == "asset"


def asset_function(tree: ast.Module, key: str):
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for function in functions:
        if function.name == key and any(_is_asset_decorator(d) for d in function.decorator_list):
            return function
    return None


def _key_of(node: ast.expr) -> str | None:
    """The asset key an expression in ``deps``/``ins`` names: a string, a name, an AssetKey."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit("/", 1)[-1]
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and node.args:
        # dg.AssetKey("x"), dg.AssetKey(["x"]), dg.AssetIn("x") / AssetDep("x")
        first = node.args[0]
        if isinstance(first, (ast.List, ast.Tuple)) and first.elts:
            first = first.elts[-1]
        return _key_of(first)
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg in ("key", "asset"):
                return _key_of(keyword.value)
    return None


def upstream_of(function) -> list[str]:
    """The upstream asset keys of an ``@asset`` function, in parameter order."""
    decorator = next(d for d in function.decorator_list if _is_asset_decorator(d))
    ins: dict[str, str] = {}
    deps: list[str] = []
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg == "ins" and isinstance(keyword.value, ast.Dict):
                for k, v in zip(keyword.value.keys, keyword.value.values, strict=True):
                    if isinstance(k, ast.Constant) and isinstance(k.value, str):
                        target = _key_of(v)
                        if target:
                            ins[k.value] = target
            elif keyword.arg == "deps" and isinstance(keyword.value, (ast.List, ast.Tuple)):
                deps.extend(filter(None, (_key_of(e) for e in keyword.value.elts)))
    args = function.args
    upstream = []
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        if arg.arg == "context" or _is_context(arg.annotation):
            continue
        upstream.append(ins.get(arg.arg, arg.arg))
    for dep in deps:
        if dep not in upstream:
            upstream.append(dep)
    return upstream


def _is_context(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    name = (
        annotation.attr if isinstance(annotation, ast.Attribute) else getattr(annotation, "id", "")
    )
    return name.endswith("Context")


def core_imports(tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """The module-level ``from core.X import a, b`` of a wrapper, as (file, names, line)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == "core" and len(parts) == 2:
                names = [alias.name for alias in node.names if alias.name != "*"]
                found.append((f"{CORE_DIR}/{parts[1]}.py", names, node.lineno))
    return found


def defined_names(path: Path) -> set[str] | None:
    """The names a module defines at its top level (``None`` when it cannot be known)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    names: set[str] = set()

    def targets(node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def visit(body: list[ast.stmt]) -> bool:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    targets(target)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets(node.target)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        return False
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.If):
                if not (visit(node.body) and visit(node.orelse)):
                    return False
            elif isinstance(node, ast.Try):
                blocks = [node.body, node.orelse, node.finalbody]
                blocks += [handler.body for handler in node.handlers]
                if not all(visit(block) for block in blocks):
                    return False
            elif isinstance(node, (ast.With, ast.For, ast.While)):
                if isinstance(node, ast.For):
                    targets(node.target)
                if not visit(node.body):
                    return False
        return True

    if not visit(tree.body) or "__getattr__" in names:
        return None
    return names
