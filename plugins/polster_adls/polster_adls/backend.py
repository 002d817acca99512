"""The ``adls`` backend: adlfs for the filesystem and reads, a streamed block upload for writes.

Measured on Azurite with a 5-million-row table (bench/bench_storage.py): encoding into a block
upload that runs while polars encodes (``blocks.BlockBlobWriter``, on azure-storage-blob, which
adlfs is built on) writes faster than polars' own writer, and far faster than encoding first and
uploading after; adlfs reads a whole file faster than polars' ranged reads; scans stay with
polars (lazy, pushdown, larger than memory).

Atomicity: writes go straight to the blob's name as a block upload. Azure makes the new
version visible only when the block list is committed, which happens once polars has finished
without error, so readers see the old version or the new one, never a part; an upload that
fails or is killed leaves uncommitted blocks, which Azure discards and nobody can read.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from polster_core.errors import PolsterError
from polster_core.remote import FSSPEC, POLARS, FsspecBackend

from .delta_auth import azure_env, delta_credentials

CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=value;...`` pairs, keys lower-cased (values keep their ``=`` padding)."""
    pairs = {}
    for part in text.strip().split(";"):
        key, sep, value = part.partition("=")
        if sep:
            pairs[key.strip().lower()] = value.strip()
    return pairs


@dataclass(frozen=True)
class AdlsConfig:
    """The ``ADLS_*`` settings, checked; ``auth`` says which credential is used."""

    container: str
    base_path: str
    account_name: str = ""
    account_key: str = field(default="", repr=False)
    sas_token: str = field(default="", repr=False)
    connection_string: str = field(default="", repr=False)
    endpoint: str = ""
    max_retries: int | None = None
    # Azure's default chain's variables (AZURE_CLIENT_ID, ...), for delta-rs: delta_auth.py.
    azure_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def from_settings(cls, settings) -> AdlsConfig:
        container = settings.get("ADLS_CONTAINER").strip()
        if not CONTAINER_NAME.match(container):
            raise PolsterError(
                f"ADLS_CONTAINER '{container}' is not a valid container name (3-63 lower-case "
                "letters, digits and single hyphens): fix it in .env"
            )
        base = settings.get("ADLS_BASE_PATH", f"{settings.project_name}/data").strip().strip("/")
        endpoint = settings.get("ADLS_ENDPOINT_URL").strip()
        if urlsplit(endpoint).query:
            raise PolsterError(
                "ADLS_ENDPOINT_URL must not carry a query (a SAS token?): put the token in "
                "ADLS_SAS_TOKEN and the bare URL in ADLS_ENDPOINT_URL"
            )
        retries = settings.get("ADLS_MAX_RETRIES").strip()
        config = cls(
            container=container,
            base_path=base,
            account_name=settings.get("ADLS_ACCOUNT_NAME").strip(),
            account_key=settings.get("ADLS_ACCOUNT_KEY").strip(),
            sas_token=settings.get("ADLS_SAS_TOKEN").strip().lstrip("?"),
            connection_string=settings.get("ADLS_CONNECTION_STRING").strip(),
            endpoint=endpoint.rstrip("/"),
            max_retries=settings.integer("ADLS_MAX_RETRIES", 0) if retries else None,
            azure_env=azure_env(settings),
        )
        if not config.connection_string and not config.account_name:
            raise PolsterError(
                "storage backend 'adls' needs ADLS_ACCOUNT_NAME (or ADLS_CONNECTION_STRING): "
                "set it in .env"
            )
        return config

    @property
    def auth(self) -> str:
        if self.connection_string:
            return "connection string"
        if self.sas_token:
            return "SAS token"
        if self.account_key:
            return "account key"
        return "default credential"

    def account(self) -> str:
        if self.connection_string:
            return parse_connection_string(self.connection_string).get("accountname", "")
        return self.account_name

    def blob_endpoint(self) -> str:
        """The blob service URL, or "" for the public cloud's default."""
        if self.endpoint:
            return self.endpoint
        if self.connection_string:
            parts = parse_connection_string(self.connection_string)
            if parts.get("blobendpoint"):
                return parts["blobendpoint"].rstrip("/")
            if parts.get("usedevelopmentstorage", "").lower() == "true":
                return "http://127.0.0.1:10000/devstoreaccount1"
            suffix = parts.get("endpointsuffix")
            if suffix and suffix != "core.windows.net":
                protocol = parts.get("defaultendpointsprotocol", "https")
                return f"{protocol}://{self.account()}.blob.{suffix}"
        return ""

    def adlfs_options(self) -> dict[str, Any]:
        """Keyword arguments of ``adlfs.AzureBlobFileSystem``."""
        options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
        if self.connection_string:
            return {**options, "connection_string": self.connection_string}
        endpoint = self.blob_endpoint()
        if endpoint and (self.account_key or self.sas_token):
            # adlfs only builds https URLs from a host: describe the endpoint as a
            # connection string instead (this is also how it reaches the emulator).
            protocol = urlsplit(endpoint).scheme or "https"
            secret = (
                f"SharedAccessSignature={self.sas_token}"
                if self.sas_token
                else f"AccountKey={self.account_key}"
            )
            text = (
                f"DefaultEndpointsProtocol={protocol};AccountName={self.account_name};"
                f"{secret};BlobEndpoint={endpoint};"
            )
            return {**options, "connection_string": text}
        options["account_name"] = self.account_name
        if endpoint:
            options["account_host"] = urlsplit(endpoint).netloc
        if self.sas_token:
            options["sas_token"] = self.sas_token
        elif self.account_key:
            options["account_key"] = self.account_key
        else:
            options["anon"] = False  # adlfs then uses azure.identity's DefaultAzureCredential
        return options

    def blob_service(self) -> Any:
        """An azure-storage-blob ``BlobServiceClient`` with the chosen credential."""
        from azure.storage.blob import BlobServiceClient, ExponentialRetry

        options: dict[str, Any] = {}
        if self.max_retries is not None:
            options["retry_policy"] = ExponentialRetry(
                initial_backoff=1, increment_base=2, retry_total=self.max_retries
            )
        fs_options = self.adlfs_options()
        if "connection_string" in fs_options:
            return BlobServiceClient.from_connection_string(
                fs_options["connection_string"], **options
            )
        url = self.blob_endpoint() or f"https://{self.account_name}.blob.core.windows.net"
        if self.sas_token:
            return BlobServiceClient(f"{url}?{self.sas_token}", **options)
        if self.account_key:
            credential = {"account_name": self.account_name, "account_key": self.account_key}
            return BlobServiceClient(url, credential=credential, **options)
        from azure.identity import DefaultAzureCredential

        return BlobServiceClient(url, credential=DefaultAzureCredential(), **options)

    def polars_options(self) -> dict[str, Any]:
        """Keyword arguments of polars' cloud I/O (``storage_options``, ``credential_provider``)."""
        storage: dict[str, Any] = {"account_name": self.account()}
        if self.connection_string:  # it wins over the separate settings, as for adlfs
            parts = parse_connection_string(self.connection_string)
            key, sas = parts.get("accountkey", ""), parts.get("sharedaccesssignature", "")
        else:
            key, sas = self.account_key, self.sas_token
        if self.connection_string and not (key or sas):
            raise PolsterError(
                "ADLS_CONNECTION_STRING has neither an AccountKey nor a SharedAccessSignature: "
                "use a connection string with one of them"
            )
        if sas:
            storage["sas_token"] = sas.lstrip("?")
        elif key:
            storage["account_key"] = key
        endpoint = self.blob_endpoint()
        if endpoint:
            storage["azure_storage_endpoint"] = endpoint
            if endpoint.startswith("http://"):
                storage["azure_allow_http"] = "true"
        if self.max_retries is not None:
            storage["max_retries"] = self.max_retries
        if key or sas:
            return {"storage_options": storage, "credential_provider": None}
        return {"storage_options": storage, "credential_provider": default_credential_provider()}


def default_credential_provider() -> Any:
    """polars' Azure credential provider on azure.identity's ``DefaultAzureCredential``."""
    import polars as pl
    from azure.identity import DefaultAzureCredential

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # polars marks its credential providers unstable
        return pl.CredentialProviderAzure(credential=DefaultAzureCredential())


# Uploads of one table tried in all when concurrent writers keep committing it first.
COMMIT_ATTEMPTS = 4


def _lost_to_another_writer(exc: BaseException) -> bool:
    return getattr(exc, "error_code", None) == "InvalidBlockList"


class AdlsBackend(FsspecBackend):
    """Tables at ``az://{container}/{base path}/{layer}/{name}.parquet``."""

    name = "adls"
    protocol = "az"
    read_with = FSSPEC
    scan_with = POLARS

    def __init__(self, config: AdlsConfig):
        super().__init__(f"{config.container}/{config.base_path}")
        self.config = config
        self._polars: dict[str, Any] | None = None
        self._service: Any = None

    @classmethod
    def from_settings(cls, settings) -> AdlsBackend:
        return cls(AdlsConfig.from_settings(settings))

    def filesystem(self) -> Any:
        from adlfs import AzureBlobFileSystem

        return AzureBlobFileSystem(**self.config.adlfs_options())

    def polars_options(self) -> dict[str, Any]:
        if self._polars is None:
            self._polars = self.config.polars_options()
        return self._polars

    def delta_uri(self, layer: str, name: str) -> str:
        """Where delta-rs opens ``layer``/``name``'s Delta table: ``az://{container}/...``."""
        return f"abfs://{self.root}/{layer}/{name}"

    def delta_storage_options(self) -> dict[str, str]:
        """delta-rs's storage options (Polster's Delta tables, issue 29): the account, its key
        or SAS token, and the endpoint, as polars gets them; without a key, Azure's default
        credential chain as delta-rs takes it (delta_auth.py). Azure's blob store commits each
        log entry atomically (create-if-absent), so concurrent commits need no lock."""
        options = self.polars_options()
        found = {
            key: str(value)
            for key, value in options["storage_options"].items()
            if key != "max_retries"
        }
        if options.get("credential_provider") is not None:
            found.update(delta_credentials(dict(self.config.azure_env)))
        return found

    def blob_service(self) -> Any:
        """A (sync) azure-storage-blob client with the same credentials as adlfs."""
        if self._service is None:
            self._service = self.config.blob_service()
        return self._service

    def write(self, frame: Any, layer: str, name: str) -> None:
        """Stream the parquet bytes into a block upload that is committed only at the end.

        Azure discards a blob's uncommitted blocks whenever someone commits it: when another
        writer (a second run of the pipeline) commits the same table first, this upload's
        commit fails with InvalidBlockList, and the whole upload is done again.
        """
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                self._upload(frame, layer, name)
                return
            except Exception as exc:
                if attempt + 1 == COMMIT_ATTEMPTS or not _lost_to_another_writer(exc):
                    raise

    def _upload(self, frame: Any, layer: str, name: str) -> None:
        import polars as pl

        from .blocks import BlockBlobWriter

        blob = self.path(layer, name).split("/", 1)[1]
        client = self.blob_service().get_blob_client(self.config.container, blob)
        writer = BlockBlobWriter(client)
        try:
            if isinstance(frame, pl.LazyFrame):
                frame.sink_parquet(writer)
            else:
                frame.write_parquet(writer)
            writer.commit()
        finally:
            writer.close()  # never commits: after a failure the old version stays

    def __repr__(self) -> str:  # never the credentials
        return f"AdlsBackend({self.uri('{layer}', '{name}')!r}, auth={self.config.auth!r})"
