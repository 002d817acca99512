"""Fake secrets that a test can find anywhere they leak.

Every secret :func:`marked` makes starts with :data:`MARKER`, unique to the test session, so
one plain search of files, output and Dagster's history for the marker finds every copy of
every secret a test handed out (and a hit is this session's own).
"""

from __future__ import annotations

import secrets
import string
import uuid

# The marker every fake secret carries; unique to this session, so a hit is ours.
MARKER = f"PolsterLeak{uuid.uuid4().hex[:10]}"
_ALNUM = string.ascii_letters + string.digits


def marked(length: int) -> str:
    """A fake secret of ``length`` letters and digits that starts with the marker.

    Letters and digits only: valid base64 when ``length`` is a multiple of 4 (Azure keys are),
    and unchanged by URL or JSON encoding, so one plain search finds every copy.
    """
    return MARKER + "".join(secrets.choice(_ALNUM) for _ in range(length - len(MARKER)))
