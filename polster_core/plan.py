"""Plans: every file a command will create, change or delete, applied all-or-nothing.

A command first builds a :class:`Plan` (nothing touched), prints it for ``--dry-run``, or
applies it: new contents go to temporary files beside their targets, then are moved into
place; if anything fails, every file and directory is put back as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FileOp:
    action: str  # "create", "update" or "delete"
    path: Path
    content: str | None = None
    executable: bool = False


@dataclass
class Plan:
    root: Path
    ops: list[FileOp] = field(default_factory=list)

    def create(self, rel: str, content: str, executable: bool = False) -> None:
        self.ops.append(FileOp("create", self.root / rel, content, executable))

    def update(self, rel: str, content: str) -> None:
        self.ops.append(FileOp("update", self.root / rel, content))

    def delete(self, rel: str) -> None:
        self.ops.append(FileOp("delete", self.root / rel))

    def paths(self, action: str | None = None) -> list[Path]:
        return [op.path for op in self.ops if action is None or op.action == action]

    def describe(self, base: Path | None = None) -> list[str]:
        """One line per operation, paths relative to ``base`` (default: the plan's root)."""
        base = base or self.root
        marks = {"create": "create", "update": "update", "delete": "delete"}
        lines = []
        for op in self.ops:
            try:
                shown = op.path.relative_to(base)
            except ValueError:
                shown = op.path
            lines.append(f"  {marks[op.action]:<7}{shown}")
        return lines

    def apply(self) -> None:
        """Apply every operation, or none: on any error the tree is restored and it re-raises."""
        made_dirs: list[Path] = []
        staged: list[tuple[FileOp, Path]] = []
        backups: list[tuple[Path, Path]] = []  # (original path, backup copy)
        done: list[FileOp] = []
        current: Path | None = None  # the file being written, to name it when that fails
        try:
            for op in self.ops:
                if op.action == "create" and op.path.exists():
                    raise FileExistsError(f"{op.path} already exists")
                if op.action in ("update", "delete") and not op.path.exists():
                    raise FileNotFoundError(f"{op.path} does not exist")
            for op in self.ops:
                if op.action == "delete":
                    continue
                current = op.path
                _make_dirs(op.path.parent, made_dirs)
                fd, tmp = tempfile.mkstemp(prefix=f".{op.path.name}.", dir=op.path.parent)
                staged.append((op, Path(tmp)))
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(op.content or "")
                mode = 0o755 if op.executable else 0o644
                if op.action == "update":
                    mode = op.path.stat().st_mode & 0o777
                os.chmod(tmp, mode)
            for op in self.ops:
                if op.action in ("update", "delete"):
                    fd, backup = tempfile.mkstemp(
                        prefix=f".{op.path.name}.bak.", dir=op.path.parent
                    )
                    os.close(fd)
                    shutil.copy2(op.path, backup)
                    backups.append((op.path, Path(backup)))
            for op, tmp in staged:
                os.replace(tmp, op.path)
                done.append(op)
            for op in self.ops:
                if op.action == "delete":
                    op.path.unlink()
                    done.append(op)
        except BaseException as exc:
            if isinstance(exc, OSError) and not exc.filename and current is not None:
                exc.filename = str(current)
            for op, tmp in staged:
                if op not in done:
                    tmp.unlink(missing_ok=True)
            for op in done:
                if op.action == "create":
                    op.path.unlink(missing_ok=True)
            for original, backup in backups:
                os.replace(backup, original)
            for directory in reversed(made_dirs):
                try:
                    directory.rmdir()
                except OSError:
                    pass
            raise
        for _, backup in backups:
            backup.unlink(missing_ok=True)


def _make_dirs(directory: Path, made: list[Path]) -> None:
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        d.mkdir()
        made.append(d)
