"""A third-party storage backend, written as docs/plugins.md tells: ``STORAGE_BACKEND=folder``.

Tables live in a folder outside the project (a mounted share, a synced directory), reached
through fsspec's ``DirFileSystem``. It uses nothing but Polster's public API: the
``polster_storage_backends`` hook, ``StorageBackend`` / ``Setting``, and ``FsspecBackend``.
"""

from polster_core import hookimpl
from polster_core.errors import PolsterError
from polster_core.remote import FsspecBackend
from polster_core.specs import Setting, StorageBackend


class FolderBackend(FsspecBackend):
    name = "folder"
    protocol = "folder"
    # The defaults: temp file + fs.mv for writes, the filesystem's files for reads and scans.

    def __init__(self, folder: str, base_path: str):
        super().__init__(base_path)
        self.folder = folder

    def filesystem(self):
        from fsspec.implementations.dirfs import DirFileSystem
        from fsspec.implementations.local import LocalFileSystem

        return DirFileSystem(path=self.folder, fs=LocalFileSystem())


def _factory(settings):
    from pathlib import Path

    folder = Path(settings.get("FOLDER_PATH")).expanduser()
    if not folder.is_dir():
        raise PolsterError(f"FOLDER_PATH {folder} is not a directory: create it or fix .env")
    base = settings.get("FOLDER_BASE_PATH", f"{settings.project_name}/data")
    return FolderBackend(str(folder), base)


@hookimpl
def polster_storage_backends(register):
    register(
        StorageBackend(
            name="folder",
            description="Parquet tables in a folder of your choice (fsspec)",
            factory=_factory,
            settings=(
                Setting("FOLDER_PATH", "Folder that holds the tables", required=True),
                Setting("FOLDER_BASE_PATH", "Path within the folder (empty: <project>/data)"),
                Setting("FOLDER_FALLBACK_TO_LOCAL", "Fallback on folder failure", "false"),
            ),
            requirement="polster-folder>=0.2",
        )
    )
