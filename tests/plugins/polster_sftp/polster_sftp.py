"""A third-party storage backend on an SFTP server, written as docs/plugins.md tells.

Tables live at ``sftp://{SFTP_USER}@{SFTP_HOST}:{SFTP_PORT}{SFTP_BASE_PATH}/{layer}/{name}.parquet``
through fsspec's ``sftp`` filesystem (paramiko), whose file objects return ``None`` from
``write()``. It uses nothing but Polster's public API: the ``polster_storage_backends`` hook,
``StorageBackend`` / ``Setting`` (with a ``one_of`` group: a password or a key file), and
``FsspecBackend`` with its connect timeout.
"""

from polster_core import hookimpl
from polster_core.remote import FsspecBackend
from polster_core.specs import Setting, StorageBackend


class SftpBackend(FsspecBackend):
    name = "sftp"
    protocol = "sftp"
    # The defaults: temp file + fs.mv for writes, the filesystem's files for reads and scans.
    # One paramiko SFTP session answers one thread at a time (threads sharing it wait for
    # each other's replies forever): each thread gets a connection of its own.
    thread_safe = False

    def __init__(self, host, port, user, root, password="", key_file=""):
        super().__init__(root, host=f"{user}@{host}:{port}")
        self.hostname, self.port, self.user = host, int(port), user
        self._password, self.key_file = password, key_file

    def filesystem(self):
        from fsspec.implementations.sftp import SFTPFileSystem

        seconds = self.connect_timeout  # the core's, or SFTP_CONNECT_TIMEOUT
        return SFTPFileSystem(
            host=self.hostname,
            port=self.port,
            username=self.user,
            password=self._password or None,
            key_filename=self.key_file or None,
            look_for_keys=False,
            allow_agent=False,
            timeout=seconds,
            banner_timeout=seconds,
            auth_timeout=seconds,
            skip_instance_cache=True,
        )

    def __repr__(self):
        return f"SftpBackend({self.uri('{layer}', '{name}')!r})"


def _factory(settings):
    return SftpBackend(
        settings.get("SFTP_HOST"),
        settings.get("SFTP_PORT", "22"),
        settings.get("SFTP_USER"),
        settings.get("SFTP_BASE_PATH", f"{settings.project_name}/data"),
        settings.get("SFTP_PASSWORD"),
        settings.get("SFTP_KEY_FILE"),
    )


@hookimpl
def polster_storage_backends(register):
    register(
        StorageBackend(
            name="sftp",
            description="Parquet tables on an SFTP server (fsspec + paramiko)",
            factory=_factory,
            settings=(
                Setting("SFTP_HOST", "SFTP server", required=True),
                Setting("SFTP_PORT", "Port of the server", "22"),
                Setting("SFTP_USER", "User to log in as", required=True),
                Setting(
                    "SFTP_BASE_PATH",
                    "Folder of the tables; absolute, or relative to the login directory "
                    "(empty: <project>/data)",
                ),
                Setting("SFTP_PASSWORD", "Password", secret=True, one_of="credentials"),
                Setting("SFTP_KEY_FILE", "Private key file", one_of="credentials"),
                Setting("SFTP_CONNECT_TIMEOUT", "Seconds to wait for the server (empty: 10)"),
                Setting("SFTP_FALLBACK_TO_LOCAL", "Fallback on SFTP failure", "false"),
            ),
            requirement="polster-sftp>=0.1",
        )
    )
