"""Delta tables on ADLS without a key, SAS token or connection string (issue 29): Azure's
default credential chain handed to delta-rs as delta-rs takes it. Each kind's options write a
real Delta table with delta-rs on Azurite in its OAuth mode (HTTPS, bearer tokens); a service
principal's token request goes to a token endpoint of the test's own on 127.0.0.1 (never to
Azure, never to the instance metadata address)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pyarrow as pa
import pytest
from polster_adls.backend import AdlsBackend, AdlsConfig
from polster_adls.delta_auth import credential_kind, delta_credentials

from polster_core.errors import PolsterError
from polster_core.settings import Settings
from polster_core.testing import servers

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


def jwt(now: float | None = None) -> str:
    """A token of the shape Azure AD issues for storage (Azurite's OAuth mode checks its
    audience, issuer and times, not its signature)."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(now or time.time())
    claims = {
        "aud": "https://storage.azure.com",
        "iss": "https://sts.windows.net/tenant/",
        "nbf": now - 60,
        "iat": now - 60,
        "exp": now + 3600,
    }
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


class TokenEndpoint(BaseHTTPRequestHandler):
    """Azure AD's token endpoint, as delta-rs calls it: records each request, issues a token."""

    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        TokenEndpoint.seen.append((self.path, parse_qs(body)))
        answer = json.dumps({"access_token": jwt(), "expires_in": 3600, "token_type": "Bearer"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (Azurite's OAuth mode needs HTTPS, and delta-rs
    then takes tokens only from an HTTPS authority)."""
    if shutil.which("openssl") is None:
        servers.missing("openssl", "install it (Debian's openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def token_endpoint(tls):
    server = HTTPServer(("127.0.0.1", 0), TokenEndpoint)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    TokenEndpoint.seen = []
    yield f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def azurite_oauth(tmp_path_factory, tls):
    """Azurite taking OAuth bearer tokens (its ``--oauth basic``, over HTTPS), with a container
    ``tables``; stopped by its PID."""
    command = servers.azurite_command()
    if command is None:
        servers.missing("Azurite", "run `bash scripts/dev-env.sh` (it installs the npm package)")
    folder = tmp_path_factory.mktemp("azurite-oauth")
    cert, key = tls
    port = servers.free_port()
    process = subprocess.Popen(
        [command, "--blobHost", servers.HOST, "--blobPort", str(port), "--location",
         str(folder), "--skipApiVersionCheck", "--disableTelemetry", "--silent",
         "--oauth", "basic", "--cert", str(cert), "--key", str(key)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        servers.wait_for_port(port, process)
        from azure.storage.blob import BlobServiceClient

        endpoint = f"https://127.0.0.1:{port}/devstoreaccount1"
        account = {"account_name": "devstoreaccount1", "account_key": AZURITE_KEY}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # urllib3's warning of the unverified certificate
            BlobServiceClient(
                account_url=endpoint, credential=account, connection_verify=False
            ).create_container("tables")
        yield endpoint
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def write_three_versions(options: dict[str, str], table: str) -> None:
    from deltalake import DeltaTable, write_deltalake

    uri = f"abfs://tables/{table}"
    # The self-signed certificate of the test's Azurite (delta-rs's own client option).
    options = {**options, "allow_invalid_certificates": "true", "max_retries": "0"}
    for i in range(3):
        write_deltalake(uri, pa.table({"x": [i]}), mode="append", storage_options=options)
    read = DeltaTable(uri, storage_options=options)
    assert read.version() == 2
    assert sorted(read.to_pyarrow_table()["x"].to_pylist()) == [0, 1, 2]


@pytest.mark.parametrize("kind", ["client secret", "workload identity"])
def test_a_service_principal_writes_with_delta_rs_own_token(
    kind, token_endpoint, azurite_oauth, tmp_path: Path
):
    """The backend's options for a service principal: delta-rs asks the authority (the test's
    own, on 127.0.0.1) for a storage token and writes with it."""
    token_file = tmp_path / "token"
    token_file.write_text("federated-token")
    env = {
        "ADLS_ENDPOINT_URL": azurite_oauth,
        "AZURE_CLIENT_ID": "app",
        "AZURE_TENANT_ID": "tenant",
        "AZURE_AUTHORITY_HOST": token_endpoint,
    }
    if kind == "client secret":
        env["AZURE_CLIENT_SECRET"] = SECRET
    else:
        env["AZURE_FEDERATED_TOKEN_FILE"] = str(token_file)
    options = backend(**env).delta_storage_options()
    options["account_name"] = "devstoreaccount1"
    assert options["azure_authority_host"] == token_endpoint  # never Azure's own
    write_three_versions(options, kind.replace(" ", "_"))
    path, form = TokenEndpoint.seen[0]
    assert path == "/tenant/oauth2/v2.0/token"
    assert form["client_id"] == ["app"]
    assert form["scope"] == ["https://storage.azure.com/.default"]
    if kind == "client secret":
        assert form["client_secret"] == [SECRET]
    else:
        assert form["client_assertion"] == ["federated-token"]


def test_a_default_credential_token_writes(azurite_oauth):
    """Managed identity, `az login` and the rest of the chain: their token as delta-rs's
    bearer_token (here one of the test's own: the chain's credentials need Azure)."""
    options = {
        **delta_credentials({}, token=jwt),
        "account_name": "devstoreaccount1",
        "azure_storage_endpoint": azurite_oauth,
    }
    assert set(options) == {"bearer_token", "account_name", "azure_storage_endpoint"}
    write_three_versions(options, "bearer")
