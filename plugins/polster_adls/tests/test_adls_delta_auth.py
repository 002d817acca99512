"""Delta tables on ADLS without a key, SAS token or connection string (issue 29): Azure's
default credential chain handed to delta-rs as delta-rs takes it. Each kind's options are
checked as delta-rs uses them: a real delta-rs write against Azurite, whose token request goes
to a token endpoint of the test's own on 127.0.0.1 (never to Azure, never to the instance
metadata address)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pyarrow as pa
import pytest
from polster_adls.backend import AdlsBackend, AdlsConfig
from polster_adls.delta_auth import credential_kind, delta_credentials

from polster_core.errors import PolsterError
from polster_core.settings import Settings

SECRET = "client-secret-for-tests-only"


def backend(**env) -> AdlsBackend:
    base = {"ADLS_CONTAINER": "tables", "ADLS_ACCOUNT_NAME": "acct"}
    settings = Settings(Path("/p"), "demo", {**base, **env})
    return AdlsBackend(AdlsConfig.from_settings(settings))


def test_a_client_secret_is_delta_rs_own_options():
    options = backend(
        AZURE_CLIENT_ID="app", AZURE_CLIENT_SECRET=SECRET, AZURE_TENANT_ID="tenant"
    ).delta_storage_options()
    assert options == {
        "account_name": "acct",
        "azure_client_id": "app",
        "azure_client_secret": SECRET,
        "azure_tenant_id": "tenant",
    }


def test_workload_identity_is_delta_rs_own_options(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text("federated-token")
    env = {
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_CLIENT_ID": "app",
        "AZURE_TENANT_ID": "tenant",
    }
    assert credential_kind(env) == "workload identity"
    assert backend(**env).delta_storage_options() == {
        "account_name": "acct",
        "azure_federated_token_file": str(token_file),
        "azure_client_id": "app",
        "azure_tenant_id": "tenant",
    }


def test_anything_else_is_a_default_credential_token():
    assert credential_kind({"AZURE_CLIENT_ID": "app"}) == "default credential"
    assert delta_credentials({}, token=lambda: "a-token") == {"bearer_token": "a-token"}


def test_a_key_wins_and_no_azure_variable_is_used():
    options = backend(ADLS_ACCOUNT_KEY="a2V5", AZURE_CLIENT_ID="app").delta_storage_options()
    assert options == {"account_name": "acct", "account_key": "a2V5"}


def test_no_credential_at_all_is_one_line(monkeypatch):
    import azure.identity

    class Nothing:
        def get_token(self, *scopes):
            raise azure.identity.CredentialUnavailableError("DefaultAzureCredential failed")

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", Nothing)
    with pytest.raises(PolsterError) as caught:
        backend().delta_storage_options()
    text = str(caught.value)
    assert "no Azure credential for the Delta tables on adls" in text
    assert "\n" not in text and "az login" in text


class TokenEndpoint(BaseHTTPRequestHandler):
    """Azure AD's token endpoint, as delta-rs calls it: records each request."""

    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        TokenEndpoint.seen.append((self.path, parse_qs(body)))
        answer = json.dumps(
            {"access_token": "issued-token", "expires_in": 3600, "token_type": "Bearer"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def token_endpoint():
    server = HTTPServer(("127.0.0.1", 0), TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    TokenEndpoint.seen = []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", ["client secret", "workload identity"])
def test_delta_rs_takes_the_options_and_asks_for_a_token(
    kind, token_endpoint, azurite, tmp_path: Path
):
    """delta-rs reads each kind's options and asks the authority for a storage token with them
    (Azurite takes OAuth tokens only over HTTPS, so the write itself is then refused there)."""
    from deltalake import write_deltalake

    token_file = tmp_path / "token"
    token_file.write_text("federated-token")
    env = {"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": "tenant"}
    if kind == "client secret":
        env["AZURE_CLIENT_SECRET"] = SECRET
    else:
        env["AZURE_FEDERATED_TOKEN_FILE"] = str(token_file)
    options = {
        **delta_credentials({**env, "AZURE_AUTHORITY_HOST": token_endpoint}),
        "account_name": "devstoreaccount1",
        "azure_storage_endpoint": f"http://127.0.0.1:{azurite.port}/devstoreaccount1",
        "azure_allow_http": "true",
        "max_retries": "0",
    }
    assert options["azure_authority_host"] == token_endpoint  # never Azure's own
    with pytest.raises(Exception):  # noqa: B017 (Azurite refuses a bearer token over HTTP)
        write_deltalake("abfs://tables/t", pa.table({"x": [1]}), storage_options=options)
    path, form = TokenEndpoint.seen[0]
    assert path == "/tenant/oauth2/v2.0/token"
    assert form["client_id"] == ["app"]
    assert form["scope"] == ["https://storage.azure.com/.default"]
    if kind == "client secret":
        assert form["client_secret"] == [SECRET]
    else:
        assert form["client_assertion"] == ["federated-token"]
