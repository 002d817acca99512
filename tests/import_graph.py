"""The static import graph of Polster's packages, read with ``ast`` (nothing is imported).

Every ``import`` statement counts, at module level and inside functions alike (an import inside
a function is a dependency all the same: it only runs later); imports under
``if TYPE_CHECKING:`` do not (they never run). ``from package import name`` is an edge to
``package.name`` when that is a module of the package, else to ``package``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Import:
    target: str  # the module imported
    line: int
    top: bool  # at module level (runs when the module is imported)
    names: tuple[str, ...]  # the names of a `from ... import`, else ()
    comment: str  # the comment on the import's first line, or the line above it


class ImportGraph:
    """Modules of the packages found under ``roots`` (folders holding a package each)."""

    def __init__(self, packages: list[Path]):
        self.files: dict[str, Path] = {}
        for package in packages:
            base = package.parent
            for path in sorted(package.rglob("*.py")):
                rel = path.relative_to(base).with_suffix("")
                if "templates" in rel.parts or "__pycache__" in rel.parts:
                    continue
                parts = list(rel.parts)
                if parts[-1] == "__init__":
                    parts.pop()
                self.files[".".join(parts)] = path

    @cached_property
    def imports(self) -> dict[str, list[Import]]:
        return {name: list(self._imports_of(name)) for name in self.files}

    def _imports_of(self, module: str):
        path = self.files[module]
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]

        def comment_of(node) -> str:
            line = lines[node.lineno - 1]
            if "#" in line:
                return line.split("#", 1)[1].strip()
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            return above[1:].strip() if above.startswith("#") else ""

        def visit(node, top: bool):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        yield Import(alias.name, child.lineno, top, (), comment_of(child))
                elif isinstance(child, ast.ImportFrom):
                    if child.level:
                        parts = package.split(".")
                        base = ".".join(parts[: len(parts) - child.level + 1])
                        source_module = f"{base}.{child.module}" if child.module else base
                    else:
                        source_module = child.module or ""
                    for alias in child.names:
                        sub = f"{source_module}.{alias.name}"
                        target = sub if sub in self.files else source_module
                        yield Import(target, child.lineno, top, (alias.name,), comment_of(child))
                inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                yield from visit(child, top and not inner)

        yield from visit(ast.parse(source, str(path)), True)

    def edges(self, module: str, top_only: bool = False) -> set[str]:
        return {
            i.target
            for i in self.imports.get(module, ())
            if (i.top or not top_only) and i.target != module
        }

    def cycles(self) -> list[list[str]]:
        """The import circles among the packages' modules (strongly connected components of
        more than one module), each as a path that closes on its first module."""
        graph = {m: {t for t in self.edges(m) if t in self.files} for m in self.files}
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        found = []
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))

        def connect(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            for w in graph[v]:
                if w not in index:
                    connect(w)
                    low[v] = min(low[v], low[w])
                elif w in stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(self._circle(graph, set(component)))

        for v in sorted(graph):
            if v not in index:
                connect(v)
        return found

    @staticmethod
    def _circle(graph, component: set[str]) -> list[str]:
        start = min(component)
        paths = {start: [start]}
        todo = [start]
        while todo:  # breadth first: the shortest way back to start
            v = todo.pop(0)
            for w in sorted(graph[v] & component):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    todo.append(w)
        return sorted(component)

    def loaded_by(self, roots: list[str]) -> dict[str, list[str]]:
        """Every module (theirs and third parties') that importing ``roots`` imports, following
        module-level imports only, each with the chain of imports that brings it in."""
        chains = {root: [root] for root in roots}
        todo = list(roots)
        while todo:
            module = todo.pop()
            for target in sorted(self.edges(module, top_only=True)):
                # `import a.b.c` runs a and a.b first
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    name = ".".join(parts[:i])
                    if name not in chains:
                        chains[name] = chains[module] + [name]
                        if name in self.files:
                            todo.append(name)
        return chains


def polster_graph() -> ImportGraph:
    """polster_core and the plugins of this repository."""
    packages = [REPO / "polster_core"]
    packages += sorted(p for p in (REPO / "plugins").glob("polster_*/polster_*") if p.is_dir())
    return ImportGraph(packages)
