"""ADLS settings: which credential is used, what is refused, and what never shows a secret."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polster_adls.backend import AdlsBackend, AdlsConfig

from polster_core.errors import PolsterError
from polster_core.settings import Settings

KEY = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ=="


def config(**env) -> AdlsConfig:
    base = {"ADLS_CONTAINER": "tables", "ADLS_ACCOUNT_NAME": "acct"}
    return AdlsConfig.from_settings(Settings(Path("/p"), "dna-platform", {**base, **env}))


def test_without_key_the_default_azure_credential_chain_is_used():
    cfg = config()
    assert cfg.auth == "default credential"
    assert cfg.base_path == "dna-platform/data"
    assert cfg.adlfs_options()["anon"] is False  # adlfs then builds DefaultAzureCredential
    assert "account_key" not in cfg.adlfs_options()
    options = cfg.polars_options()
    assert isinstance(options["credential_provider"], pl.CredentialProviderAzure)
    assert options["storage_options"] == {"account_name": "acct"}


def test_key_sas_and_connection_string_take_precedence_in_that_order():
    assert config(ADLS_ACCOUNT_KEY=KEY).auth == "account key"
    assert config(ADLS_ACCOUNT_KEY=KEY, ADLS_SAS_TOKEN="?sv=1&sig=abc").auth == "SAS token"
    connection = f"AccountName=other;AccountKey={KEY};EndpointSuffix=core.windows.net"
    cfg = config(ADLS_SAS_TOKEN="sv=1&sig=abc", ADLS_CONNECTION_STRING=connection)
    assert cfg.auth == "connection string" and cfg.account() == "other"
    assert cfg.polars_options()["storage_options"]["account_key"] == KEY
    assert config(ADLS_SAS_TOKEN="?sv=1&sig=abc").sas_token == "sv=1&sig=abc"


def test_an_http_endpoint_reaches_adlfs_as_a_connection_string():
    cfg = config(ADLS_ACCOUNT_KEY=KEY, ADLS_ENDPOINT_URL="http://127.0.0.1:10000/acct/")
    text = cfg.adlfs_options()["connection_string"]
    assert "BlobEndpoint=http://127.0.0.1:10000/acct;" in text
    assert "DefaultEndpointsProtocol=http;" in text
    storage = cfg.polars_options()["storage_options"]
    assert storage["azure_storage_endpoint"] == "http://127.0.0.1:10000/acct"
    assert storage["azure_allow_http"] == "true"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"ADLS_CONTAINER": "No_Such"}, "ADLS_CONTAINER 'No_Such' is not a valid container name"),
        ({"ADLS_ACCOUNT_NAME": ""}, "needs ADLS_ACCOUNT_NAME (or ADLS_CONNECTION_STRING)"),
        ({"ADLS_ENDPOINT_URL": "https://a.blob.core.windows.net?sig=x"}, "must not carry a query"),
        ({"ADLS_MAX_RETRIES": "many"}, "ADLS_MAX_RETRIES must be a whole number"),
    ],
)
def test_bad_settings_are_one_clear_line(env, fragment):
    with pytest.raises(PolsterError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        config(**env)


def test_reprs_never_show_secrets():
    cfg = config(ADLS_ACCOUNT_KEY=KEY, ADLS_SAS_TOKEN="sv=1&sig=s3cr3tsig")
    for text in (repr(cfg), repr(AdlsBackend(cfg))):
        assert KEY not in text and "s3cr3tsig" not in text
    assert repr(AdlsBackend(cfg)) == (
        "AdlsBackend('az://tables/dna-platform/data/{layer}/{name}.parquet', auth='SAS token')"
    )
