"""delta-rs's credentials on ADLS when Polster has no account key, SAS token or connection
string: Azure's default credential chain, as delta-rs (object_store) takes it.

Which credential, in the order of azure.identity's ``DefaultAzureCredential`` (the chain
Polster's parquet reads and writes use), each as delta-rs's own storage options where it has
them, so delta-rs fetches and refreshes its tokens itself:

1. ``client secret``: ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``, ``AZURE_TENANT_ID`` ->
   ``azure_client_id``, ``azure_client_secret``, ``azure_tenant_id``;
2. ``workload identity``: ``AZURE_FEDERATED_TOKEN_FILE`` with ``AZURE_CLIENT_ID`` and
   ``AZURE_TENANT_ID`` -> ``azure_federated_token_file``, ``azure_client_id``,
   ``azure_tenant_id``;
   (both with ``AZURE_AUTHORITY_HOST`` -> ``azure_authority_host`` where it is set);
3. anything else the chain finds (managed identity, ``az login``, azd, PowerShell): a token
   from ``DefaultAzureCredential`` -> ``bearer_token``, fetched again (from its cache) each time
   a table is opened.

The variables are read from the environment and ``.env`` (the project's settings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from polster_core.errors import PolsterError

VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
    "AZURE_FEDERATED_TOKEN_FILE",
)
SCOPE = "https://storage.azure.com/.default"


def credential_kind(env: Mapping[str, str]) -> str:
    """Which of the chain's credentials the variables make (see the module's docstring)."""
    if all(env.get(k) for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID")):
        return "client secret"
    federated = ("AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID")
    if all(env.get(k) for k in federated):
        return "workload identity"
    return "default credential"


def delta_credentials(
    env: Mapping[str, str], token: Callable[[], str] | None = None
) -> dict[str, str]:
    """delta-rs's storage options for the chain's credential. ``token()`` gives a bearer token
    for the last kind (default: azure.identity's ``DefaultAzureCredential``)."""
    kind = credential_kind(env)
    if kind == "default credential":
        return {"bearer_token": (token or default_token)()}
    found = {"azure_client_id": env["AZURE_CLIENT_ID"], "azure_tenant_id": env["AZURE_TENANT_ID"]}
    if kind == "client secret":
        found["azure_client_secret"] = env["AZURE_CLIENT_SECRET"]
    else:
        found["azure_federated_token_file"] = env["AZURE_FEDERATED_TOKEN_FILE"]
    if env.get("AZURE_AUTHORITY_HOST"):  # a sovereign cloud's Entra ID
        found["azure_authority_host"] = env["AZURE_AUTHORITY_HOST"]
    return found


def default_token() -> str:
    """A storage token from ``DefaultAzureCredential`` (managed identity, ``az login``, ...),
    or one line saying how to give Polster a credential."""
    from azure.identity import DefaultAzureCredential

    try:
        return DefaultAzureCredential().get_token(SCOPE).token
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PolsterError(
            f"no Azure credential for the Delta tables on adls ({first[:160]}): set "
            "ADLS_ACCOUNT_KEY, ADLS_SAS_TOKEN or ADLS_CONNECTION_STRING in .env, or "
            "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID, or run `az login`"
        ) from None


def azure_env(settings: Any) -> tuple[tuple[str, str], ...]:
    """The chain's variables set in the project's settings (environment, then ``.env``)."""
    return tuple((k, settings.get(k).strip()) for k in VARIABLES if settings.get(k).strip())
