"""Keep secrets out of what Polster shows: errors, warnings, logs and Dagster metadata.

``redact(text, secrets)`` replaces every secret value (and the parts of it that leak on their
own: the key of a connection string, the signature of a SAS token, their URL-encoded forms)
with ``***``, and masks well-known credential parameters even when their value is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

# Parameters whose value is a credential wherever they appear (URLs, connection strings).
_CREDENTIAL_KEYS = (
    "sig",
    "accountkey",
    "sharedaccesssignature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "aws_secret_access_key",
    "aws_session_token",
    "password",
)
_CREDENTIAL_PARAM = re.compile(
    r"(?i)\b(" + "|".join(re.escape(k) for k in _CREDENTIAL_KEYS) + r")=([^&;\s\"'<>]+)"
)
# Shortest value treated as a secret on its own: shorter ones would mask ordinary words.
MIN_SECRET_LENGTH = 6


def secret_fragments(values: Iterable[str]) -> list[str]:
    """Every string that must not be shown, longest first (so a whole value wins over a part)."""
    found: set[str] = set()
    for value in values:
        value = (value or "").strip()
        if len(value) < MIN_SECRET_LENGTH:
            continue
        found.add(value)
        for part in re.split(r"[;&?]", value):
            key, sep, inner = part.partition("=")
            if sep and key.strip().lower() in _CREDENTIAL_KEYS and len(inner) >= MIN_SECRET_LENGTH:
                found.add(inner)
    for fragment in list(found):
        found.add(quote(fragment))
        found.add(quote(fragment, safe=""))
        found.add(quote_plus(fragment))
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by ``***``."""
    for fragment in secret_fragments(secrets):
        text = text.replace(fragment, MASK)
    return _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
