"""Polster storage backend ``s3``: Amazon S3 and S3-compatible stores (MinIO, Ceph, R2, ...).

Tables live at ``s3://{S3_BUCKET}/{S3_BASE_PATH}/{layer}/{name}.parquet``. Credentials: the
``S3_ACCESS_KEY_ID`` / ``S3_SECRET_ACCESS_KEY`` pair when set, else the standard AWS chain
(``AWS_*`` variables, ``AWS_PROFILE`` and ``~/.aws``, SSO, container and instance roles).

Importing this module is cheap: s3fs and polars load when a backend is made.
"""

from polster_core import hookimpl
from polster_core.specs import Setting, StorageBackend, compatible_requirement

__version__ = "0.1.1"

SETTINGS = (
    Setting(
        "S3_BUCKET", "Bucket name (the bucket must exist)", example="your-bucket", required=True
    ),
    Setting("S3_BASE_PATH", "Path within bucket (empty: <project name>/data)"),
    Setting("S3_REGION", "Region of the bucket (empty: AWS_REGION or your AWS profile's)"),
    Setting(
        "S3_ENDPOINT_URL",
        "Endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000 (empty: AWS)",
    ),
    Setting(
        "S3_ACCESS_KEY_ID",
        "Access key id; leave empty to use the standard AWS credential chain "
        "(AWS_* variables, AWS_PROFILE, SSO, instance or container role)",
        secret=True,
    ),
    Setting(
        "S3_SECRET_ACCESS_KEY", "Secret access key that goes with S3_ACCESS_KEY_ID", secret=True
    ),
    Setting("S3_SESSION_TOKEN", "Session token of temporary credentials", secret=True),
    Setting(
        "S3_MAX_RETRIES",
        "Retries of a failed request before a write fails or falls back (empty: s3fs's 5)",
    ),
    Setting("S3_FALLBACK_TO_LOCAL", "Fallback on S3 failure", default="false"),
)


def _factory(settings):
    from .backend import S3Backend

    return S3Backend.from_settings(settings)


@hookimpl
def polster_storage_backends(register):
    register(
        StorageBackend(
            name="s3",
            description="Amazon S3 and S3-compatible object stores (s3fs + polars)",
            factory=_factory,
            settings=SETTINGS,
            requirement=compatible_requirement("polster-s3", __version__),
            delta=True,
        )
    )
