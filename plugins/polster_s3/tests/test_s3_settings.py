"""S3 settings: which credentials are used, what is refused, and what never shows a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from polster_s3.backend import S3Backend, S3Config

from polster_core.errors import PolsterError
from polster_core.settings import Settings

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def config(**env) -> S3Config:
    return S3Config.from_settings(Settings(Path("/p"), "dna-platform", {"S3_BUCKET": "b-1", **env}))


def test_without_keys_the_standard_aws_chain_is_used():
    cfg = config(S3_REGION="eu-west-1")
    assert cfg.auth == "AWS credential chain" and cfg.base_path == "dna-platform/data"
    assert "key" not in cfg.s3fs_options() and "secret" not in cfg.s3fs_options()
    options = cfg.polars_options()
    assert options["credential_provider"] == "auto"
    assert options["storage_options"] == {"aws_region": "eu-west-1"}


def test_keys_and_an_endpoint_reach_s3fs_and_polars():
    cfg = config(
        S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        S3_SECRET_ACCESS_KEY=SECRET,
        S3_ENDPOINT_URL="http://127.0.0.1:9000/",
        S3_MAX_RETRIES="2",
    )
    assert cfg.s3fs_options()["endpoint_url"] == "http://127.0.0.1:9000"
    assert cfg.s3fs_options()["secret"] == SECRET
    storage = cfg.polars_options()["storage_options"]
    assert storage["aws_allow_http"] == "true" and storage["max_retries"] == 2
    assert S3Backend(cfg).filesystem().retries == 3


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"S3_BUCKET": "Bad_Bucket"}, "S3_BUCKET 'Bad_Bucket' is not a valid bucket name"),
        ({"S3_ACCESS_KEY_ID": "AKIAEXAMPLE"}, "set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"),
        ({"S3_ENDPOINT_URL": "http://user:pw@minio:9000"}, "without credentials"),
    ],
)
def test_bad_settings_are_one_clear_line(env, fragment):
    with pytest.raises(PolsterError, match=fragment):
        config(**env)


def test_reprs_never_show_secrets():
    cfg = config(S3_ACCESS_KEY_ID="AKIAEXAMPLE", S3_SECRET_ACCESS_KEY=SECRET)
    for text in (repr(cfg), repr(S3Backend(cfg))):
        assert SECRET not in text and "AKIAEXAMPLE" not in text
