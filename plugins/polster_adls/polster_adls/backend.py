"""The ``adls`` backend: adlfs for the filesystem and reads, polars' object store for writes.

Measured on Azurite with a 5-million-row table (bench/bench_storage.py): polars' own writer
uploads faster than adlfs, adlfs reads a whole file faster than polars; scans stay with polars
(lazy, pushdown, larger than memory).

Atomicity: writes go straight to the blob's name as a block upload. Azure makes the new
version visible only when the block list is committed at the end, so readers see the old
version or the new one, never a part; an upload that fails or is killed leaves uncommitted
blocks, which Azure discards (after at most a week) and nobody can read.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from polster_core.errors import PolsterError
from polster_core.remote import FSSPEC, POLARS, UPLOAD, FsspecBackend

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


class AdlsBackend(FsspecBackend):
    """Tables at ``az://{container}/{base path}/{layer}/{name}.parquet``."""

    name = "adls"
    protocol = "az"
    write_with = UPLOAD
    read_with = FSSPEC
    scan_with = POLARS

    def __init__(self, config: AdlsConfig):
        super().__init__(f"{config.container}/{config.base_path}")
        self.config = config
        self._polars: dict[str, Any] | None = None

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

    def upload_options(self) -> dict[str, Any]:
        if self.config.max_retries is None:
            return {}
        retries = self.config.max_retries
        return {"retry_total": retries, "retry_connect": retries, "retry_read": retries}

    def __repr__(self) -> str:  # never the credentials
        return f"AdlsBackend({self.uri('{layer}', '{name}')!r}, auth={self.config.auth!r})"
