"""The ``s3`` backend: s3fs for the filesystem and reads, polars' object store for writes.

Measured on moto with a 5-million-row table (bench/bench_storage.py): s3fs reads a whole
object several times faster than polars' ranged reads, and writes as fast as polars; polars
writes go to the final key, which needs no rename. Scans stay with polars (lazy, pushdown,
larger than memory).

Atomicity: S3 makes an object visible only when its upload completes (one PUT, or the
CompleteMultipartUpload of a multipart upload), so readers see the old version or the new
one, never a part. A failed or killed upload leaves an incomplete multipart upload, which no
reader sees; a bucket lifecycle rule (AbortIncompleteMultipartUpload) reclaims its space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from polster_core.errors import PolsterError
from polster_core.remote import FSSPEC, POLARS, UPLOAD, FsspecBackend

BUCKET_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$")


@dataclass(frozen=True)
class S3Config:
    """The ``S3_*`` settings, checked; ``auth`` says which credentials are used."""

    bucket: str
    base_path: str
    region: str = ""
    endpoint: str = ""
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)
    max_retries: int | None = None

    @classmethod
    def from_settings(cls, settings) -> S3Config:
        bucket = settings.get("S3_BUCKET").strip()
        if not BUCKET_NAME.match(bucket):
            raise PolsterError(
                f"S3_BUCKET '{bucket}' is not a valid bucket name (3-63 lower-case letters, "
                "digits, dots and hyphens): fix it in .env"
            )
        endpoint = settings.get("S3_ENDPOINT_URL").strip().rstrip("/")
        if endpoint and (
            urlsplit(endpoint).scheme not in ("http", "https") or urlsplit(endpoint).username
        ):
            raise PolsterError(
                "S3_ENDPOINT_URL must be a plain http:// or https:// URL without credentials: "
                "fix it in .env"
            )
        config = cls(
            bucket=bucket,
            base_path=settings.get("S3_BASE_PATH", f"{settings.project_name}/data")
            .strip()
            .strip("/"),
            region=settings.get("S3_REGION").strip(),
            endpoint=endpoint,
            access_key_id=settings.get("S3_ACCESS_KEY_ID").strip(),
            secret_access_key=settings.get("S3_SECRET_ACCESS_KEY").strip(),
            session_token=settings.get("S3_SESSION_TOKEN").strip(),
            max_retries=(
                settings.integer("S3_MAX_RETRIES", 0) if settings.get("S3_MAX_RETRIES") else None
            ),
        )
        if bool(config.access_key_id) != bool(config.secret_access_key):
            raise PolsterError(
                "set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither (to use the "
                "standard AWS credential chain): fix it in .env"
            )
        return config

    @property
    def auth(self) -> str:
        return "access key" if self.access_key_id else "AWS credential chain"

    def s3fs_options(self) -> dict[str, Any]:
        """Keyword arguments of ``s3fs.S3FileSystem``."""
        options: dict[str, Any] = {
            "skip_instance_cache": True,
            "use_listings_cache": False,
            "max_concurrency": 4,  # parts of a multipart upload sent at once
        }
        if self.access_key_id:
            options["key"] = self.access_key_id
            options["secret"] = self.secret_access_key
            if self.session_token:
                options["token"] = self.session_token
        if self.endpoint:
            options["endpoint_url"] = self.endpoint
        if self.region:
            options["client_kwargs"] = {"region_name": self.region}
        if self.max_retries is not None:
            options["config_kwargs"] = {
                "retries": {"max_attempts": self.max_retries + 1, "mode": "standard"},
                "connect_timeout": 5,
            }
        return options

    def polars_options(self) -> dict[str, Any]:
        """Keyword arguments of polars' cloud I/O (``storage_options``, ``credential_provider``)."""
        storage: dict[str, Any] = {}
        if self.region:
            storage["aws_region"] = self.region
        if self.endpoint:
            storage["aws_endpoint_url"] = self.endpoint
            if self.endpoint.startswith("http://"):
                storage["aws_allow_http"] = "true"
        if self.max_retries is not None:
            storage["max_retries"] = self.max_retries
        if self.access_key_id:
            storage["aws_access_key_id"] = self.access_key_id
            storage["aws_secret_access_key"] = self.secret_access_key
            if self.session_token:
                storage["aws_session_token"] = self.session_token
            return {"storage_options": storage, "credential_provider": None}
        # polars then resolves credentials through boto3: the standard AWS chain.
        return {"storage_options": storage, "credential_provider": "auto"}


class S3Backend(FsspecBackend):
    """Tables at ``s3://{bucket}/{base path}/{layer}/{name}.parquet``."""

    name = "s3"
    protocol = "s3"
    write_with = UPLOAD
    read_with = FSSPEC
    scan_with = POLARS

    def __init__(self, config: S3Config):
        super().__init__(f"{config.bucket}/{config.base_path}")
        self.config = config

    @classmethod
    def from_settings(cls, settings) -> S3Backend:
        return cls(S3Config.from_settings(settings))

    def filesystem(self) -> Any:
        from s3fs import S3FileSystem

        fs = S3FileSystem(**self.config.s3fs_options())
        if self.config.max_retries is not None:
            fs.retries = self.config.max_retries + 1  # s3fs counts attempts, not retries
        return fs

    def polars_options(self) -> dict[str, Any]:
        return self.config.polars_options()

    def delta_storage_options(self) -> dict[str, str]:
        """delta-rs's storage options for this bucket (Polster's Delta tables, issue 29): the
        same endpoint, region and credentials as polars' (the AWS chain when no key is set).

        Concurrent commits are safe without a lock: delta-rs 1.x commits each log entry with
        a conditional put (``If-None-Match: *``), which S3 (since 2024), MinIO, R2 and moto
        honour, so of two writers of one version one fails and retries; unsafe renames are
        never allowed.
        """
        storage = {
            key: str(value)
            for key, value in self.config.polars_options()["storage_options"].items()
            if key != "max_retries"
        }
        storage["conditional_put"] = "etag"
        storage["aws_s3_allow_unsafe_rename"] = "false"
        return storage

    def __repr__(self) -> str:  # never the credentials
        return f"S3Backend({self.uri('{layer}', '{name}')!r}, auth={self.config.auth!r})"
