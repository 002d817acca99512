"""Plans: every file a command will create, change or delete, applied all-or-nothing.

A command first builds a :class:`Plan` (nothing touched), prints it for ``--dry-run``, or
applies it. Every path a plan names goes through :func:`confine` (the one gate for the files
polster writes, renames or deletes): it must be inside the plan's root once symlinks are
resolved; an absolute path or one with ``..`` is refused.

Applying is journaled, so no state between "before" and "after" is ever left behind:

1. ``.polster/journal.json`` is written, naming every file's target and the temporary files
   beside it (state ``prepare``);
2. new contents go to temporary files beside their targets, and each file that changes or goes
   keeps a hard link (a copy where links are not possible) beside it;
3. the journal turns to ``commit`` (written atomically): from here the change is decided;
4. the temporary files are moved into place and the deleted files unlinked;
5. the backups and then the journal are removed.

A failure or Ctrl+C (or SIGTERM, which the CLI turns into one) rolls everything back in
process. A process killed outright leaves the journal, and the next polster command settles it
(:func:`recover`) before it reads the project: a ``prepare`` journal is undone, a ``commit``
one is finished.

``POLSTER_TEST_PAUSE_APPLY=N:MARKER`` is for tests only (it does nothing unless set): after N
renames of step 4, the command creates the file MARKER and waits there to be killed, so a test
can interrupt an apply between two renames as a user would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..exceptions import Interrupted, PolsterError

JOURNAL = ".polster/journal.json"
_PAUSE = "POLSTER_TEST_PAUSE_APPLY"  # test-only: see the module's docstring


class OutsideProject(PolsterError):
    """A path that is not inside the project (or the plugin, or the new project's folder)."""


def confine(root: Path, rel: str | os.PathLike, source: str = "") -> Path:
    """``root / rel``, when that is inside ``root`` after resolving symlinks; else one line
    naming the path (and ``source``, the file that named it).

    An absolute path, a ``..`` part or an empty path is refused as written, whatever it
    resolves to; a path through a symlink that leads out of ``root`` is refused too."""
    text = os.fspath(rel)
    parts = PurePosixPath(text.replace("\\", "/")).parts
    named = f"{source} names {text!r}" if source else repr(text)
    what = ""
    if not text or not parts or text in (".", "./"):
        what = "an empty path"
    elif PurePosixPath(text).is_absolute() or PureWindowsPath(text).anchor:
        what = "an absolute path"
    elif ".." in parts:
        what = "a path with '..'"
    elif "\0" in text:
        what = "a path with a NUL character"
    path = root / text
    if not what:
        try:
            top = root.resolve()
            resolved = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            what = f"a path that cannot be resolved ({getattr(exc, 'strerror', None) or exc})"
        else:
            if resolved == top or not resolved.is_relative_to(top):
                what = f"a path that leads out to {resolved} through a symlink"
    if what:
        fix = f"; fix or delete {source}" if source else ""
        raise OutsideProject(
            f"{named}, {what}: polster writes, renames and deletes only files inside {root}, "
            f"so nothing was changed{fix}"
        )
    return path


@dataclass
class FileOp:
    action: str  # "create", "update", "delete" or "purge" (a file or a whole folder of data)
    path: Path
    content: str | None = None
    executable: bool = False


@dataclass
class Plan:
    root: Path
    ops: list[FileOp] = field(default_factory=list)
    command: str = ""  # named in the journal, for the line the next command prints

    def create(self, rel: str, content: str, executable: bool = False) -> None:
        self.ops.append(FileOp("create", confine(self.root, rel), content, executable))

    def update(self, rel: str, content: str) -> None:
        self.ops.append(FileOp("update", confine(self.root, rel), content))

    def delete(self, rel: str) -> None:
        self.ops.append(FileOp("delete", confine(self.root, rel)))

    def purge(self, rel: str) -> None:
        """Delete a file or a whole folder (a table's partitions) without copying it: it is
        renamed aside in its own folder with the other renames, and deleted once all is done."""
        self.ops.append(FileOp("purge", confine(self.root, rel)))

    def paths(self, action: str | None = None) -> list[Path]:
        return [op.path for op in self.ops if action is None or op.action == action]

    def describe(self, base: Path | None = None) -> list[str]:
        """One line per operation, paths relative to ``base`` (default: the plan's root)."""
        base = base or self.root
        marks = {"create": "create", "update": "update", "delete": "delete", "purge": "delete"}
        lines = []
        for op in self.ops:
            paths = [op.path]
            if op.action == "purge" and op.path.is_dir() and not op.path.is_symlink():
                paths = [p for p in sorted(op.path.rglob("*")) if not p.is_dir()] or paths
            for path in paths:
                try:
                    shown = path.relative_to(base)
                except ValueError:
                    shown = path
                lines.append(f"  {marks[op.action]:<7}{shown}")
        return lines

    def apply(self) -> None:
        """Apply every operation, or none: on any error the tree is restored and it re-raises.

        Long: one all-or-nothing transaction (stage, journal, move into place, undo on any
        error or signal); split, its steps would hand the undo state from one to the next.
        """
        root = self.root
        rels = [op.path.relative_to(root).as_posix() for op in self.ops]
        for op, rel in zip(self.ops, rels, strict=True):
            confine(root, rel)  # again, now: a symlink may have appeared since the plan
            if op.action == "create" and op.path.exists():
                raise FileExistsError(f"{op.path} already exists")
            if op.action in ("update", "delete") and not op.path.exists():
                raise FileNotFoundError(f"{op.path} does not exist")
            if op.action == "purge" and not os.path.lexists(op.path):
                raise FileNotFoundError(f"{op.path} does not exist")
        if not self.ops:
            return
        confine(root, JOURNAL)
        token = os.urandom(4).hex()  # as secrets.token_hex(4), without loading hashlib
        entries = []
        for op, rel in zip(self.ops, rels, strict=True):
            folder, name = rel.rpartition("/")[0], rel.rpartition("/")[2]
            prefix = f"{folder}/" if folder else ""
            aside = "purge" if op.action == "purge" else "old"
            entries.append(
                {
                    "action": op.action,
                    "path": rel,
                    "new": None
                    if op.action in ("delete", "purge")
                    else f"{prefix}.{name}.polster-new-{token}",
                    "old": None
                    if op.action == "create"
                    else f"{prefix}.{name}.polster-{aside}-{token}",
                }
            )
        journal = {
            "polster_journal": 1,
            "command": self.command or _command_line(),
            "state": "prepare",
            "dirs": [],
            "ops": entries,
        }
        journal_dirs = _missing_dirs(root / JOURNAL)
        for directory in journal_dirs:
            directory.mkdir()
        journal["dirs"] = [_rel(root, d) for d in journal_dirs]
        current: Path | None = None  # the file being written, to name it when that fails
        try:
            current = root / JOURNAL  # a full disk fails here first: named like any file
            _write_journal(root, journal)
            wanted: list[Path] = []
            for op in self.ops:
                for directory in _missing_dirs(op.path):
                    if directory not in wanted:
                        wanted.append(directory)
            # Recorded before they are made: a kill between the two leaves nothing unnamed.
            journal["dirs"] += [_rel(root, d) for d in wanted]
            _write_journal(root, journal)
            for directory in wanted:
                current = directory
                directory.mkdir()
            for op, entry in zip(self.ops, entries, strict=True):
                current = op.path
                if entry["new"]:
                    tmp = root / entry["new"]
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                        fh.write(op.content or "")
                    mode = 0o755 if op.executable else 0o644
                    if op.action == "update":
                        mode = op.path.stat().st_mode & 0o777
                    os.chmod(tmp, mode)
                if entry["old"] and op.action != "purge":
                    _keep(op.path, root / entry["old"])
            current = root / JOURNAL
            journal["state"] = "commit"
            _write_journal(root, journal)
            pause = _pause_after()
            for count, (op, entry) in enumerate(zip(self.ops, entries, strict=True)):
                if pause is not None and count == pause[0]:
                    _wait_here(pause[1])
                current = op.path
                if op.action == "delete":
                    op.path.unlink()
                elif op.action == "purge":
                    os.rename(op.path, root / entry["old"])  # aside: deleted when all is done
                else:
                    os.replace(root / entry["new"], op.path)
        except BaseException as exc:
            if isinstance(exc, OSError) and not exc.filename and current is not None:
                exc.filename = str(current)
            if journal["state"] == "commit":
                journal["state"] = "undo"
                try:
                    _write_journal(root, journal)
                except OSError:
                    pass  # undone below all the same; a kill now would finish it instead
            with _signals_held():
                _settle(root, journal)
            if isinstance(exc, KeyboardInterrupt):  # Ctrl+C or SIGTERM: said, exit 130
                raise Interrupted(
                    f"Interrupted: nothing was written ({root} is as it was)"
                ) from None
            raise
        with _signals_held():
            _settle(root, journal)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl+C or SIGTERM while the files are put back (or the temporary ones removed) waits
    until that is done: it then interrupts the command as usual."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _command_line() -> str:
    args = [os.path.basename(sys.argv[0]) or "polster", *sys.argv[1:]]
    return " ".join(args[:6])


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _missing_dirs(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist, outermost first."""
    missing = []
    directory = path.parent
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    return list(reversed(missing))


def _keep(path: Path, backup: Path) -> None:
    """``backup``: the file at ``path`` as it is now; a hard link, which needs no space."""
    try:
        os.link(path, backup, follow_symlinks=False)
    except OSError:
        shutil.copy2(path, backup, follow_symlinks=False)


def _write_journal(root: Path, journal: dict) -> None:
    path = root / JOURNAL
    tmp = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(journal, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _pause_after() -> tuple[int, Path] | None:
    raw = os.environ.get(_PAUSE, "")
    count, _, marker = raw.partition(":")
    if not count.strip().isdigit() or not marker:
        return None
    return int(count), Path(marker)


def _wait_here(marker: Path) -> None:  # pragma: no cover - ends by a signal
    marker.write_text(str(os.getpid()), encoding="utf-8")
    while True:
        time.sleep(0.05)


def _settle(root: Path, journal: dict) -> None:
    """Bring the files a journal names to "after" (``commit``) or "before" (``prepare``,
    ``undo``), remove every temporary file and the journal; safe to repeat."""
    state = journal["state"]
    for entry in journal["ops"]:
        target = root / entry["path"]
        new = root / entry["new"] if entry["new"] else None
        old = root / entry["old"] if entry["old"] else None
        if entry["action"] == "purge":  # removed only once the change is decided
            if state == "commit":
                if os.path.lexists(target) and not os.path.lexists(old):
                    os.rename(target, old)
                if os.path.lexists(old):
                    _remove(old)
            elif os.path.lexists(old) and not os.path.lexists(target):
                os.rename(old, target)
            continue
        if state == "commit":
            if entry["action"] == "delete":
                _gone(target)
            elif new is not None and new.exists():
                os.replace(new, target)
        elif state == "undo":
            if entry["action"] == "create":
                if new is not None and not new.exists():
                    _gone(target)  # it was moved into place
            elif old is not None and old.exists():
                os.replace(old, target)
        for side in (new, old):
            if side is not None:
                _gone(side)
    _gone((root / JOURNAL).with_name("journal.json.tmp"))
    _gone(root / JOURNAL)
    for rel in reversed(journal["dirs"]):
        if state == "commit" and rel != ".polster":
            continue  # folders the change made stay; the journal's own go if empty
        try:
            (root / rel).rmdir()
        except OSError:
            pass


def _remove(path: Path) -> None:
    """Delete ``path``: a file or a link (never what it points to), or a folder's tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _gone(path: Path) -> None:
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        pass


_NAMES = re.compile(r"(?:.*/)?\.(?P<name>[^/]+)\.polster-(?P<side>new|old|purge)-[0-9a-f]{8}")


def recover(root: Path) -> str | None:
    """Settle the journal an interrupted apply left in ``root`` (the caller holds the project
    lock, or ``root`` is a folder being created); the line to print, or None."""
    path = root / JOURNAL
    if not os.path.lexists(path):
        (root / JOURNAL).with_name("journal.json.tmp").unlink(missing_ok=True)
        return None
    shown = f"{root.name}/{JOURNAL}"
    try:
        if not path.is_file() or path.is_symlink():
            raise ValueError("it is not a regular file")
        journal = json.loads(path.read_text(encoding="utf-8"))
        _check_journal(root, journal)
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise PolsterError(
            f"{path} is not a journal polster wrote ({exc}): if no polster command is running, "
            "delete it, then check the files it would have changed (git status)"
        ) from None
    _settle(root, journal)
    command = journal.get("command") or "polster"
    if journal["state"] == "commit":
        return f"`{command}` was interrupted part-way: finished it ({shown})"
    return f"`{command}` was interrupted part-way: undid it, nothing of it is left ({shown})"


def recover_folder(target: Path) -> None:
    """Settle an interrupted apply into a folder being created (``init``, ``plugin new``), where
    there is no project lock to take: an unfinished one is undone or finished, and said."""
    if target.is_dir() and not target.is_symlink() and os.path.lexists(target / JOURNAL):
        settled = recover(target)
        if settled:
            sys.stderr.write(f"polster: {settled}\n")


def _check_journal(root: Path, journal) -> None:
    if not isinstance(journal, dict) or journal.get("polster_journal") != 1:
        raise ValueError("no polster_journal: 1")
    if journal.get("state") not in ("prepare", "commit", "undo"):
        raise ValueError("an unknown state")
    if not isinstance(journal.get("command", ""), str):
        raise ValueError("command is not text")
    dirs, ops = journal.get("dirs"), journal.get("ops")
    if not isinstance(dirs, list) or not isinstance(ops, list):
        raise ValueError("dirs or ops is not a list")
    for rel in dirs:
        if not isinstance(rel, str):
            raise ValueError("a folder is not text")
        if rel not in ("", "."):
            confine(root, rel, JOURNAL)
    for entry in ops:
        actions = ("create", "update", "delete", "purge")
        if not isinstance(entry, dict) or entry.get("action") not in actions:
            raise ValueError("an entry without a known action")
        target = entry.get("path")
        if not isinstance(target, str):
            raise ValueError("an entry without a path")
        confine(root, target, JOURNAL)
        for key, wanted in (
            ("new", entry["action"] not in ("delete", "purge")),
            ("old", entry["action"] != "create"),
        ):
            side = entry.get(key)
            if side is None and not wanted:
                continue
            if not isinstance(side, str):
                raise ValueError(f"an entry without its {key} file")
            match = _NAMES.fullmatch(side)
            kind = "new" if key == "new" else "purge" if entry["action"] == "purge" else "old"
            if (
                not match
                or match.group("side") != kind
                or match.group("name") != target.rpartition("/")[2]
                or side.rpartition("/")[0] != target.rpartition("/")[0]
            ):
                raise ValueError(f"{side!r} is not a temporary file of {target!r}")
            confine(root, side, JOURNAL)
