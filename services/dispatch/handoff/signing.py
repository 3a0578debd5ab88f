"""HMAC signatures between dispatch and the joint 110/119/120/122 platform (pure functions).

Both directions use the same scheme: ``X-Linkage-Timestamp: <unix seconds>`` and
``X-Linkage-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{raw body}" under the shared secret>``.
A receiver refuses a timestamp further than the window from its clock (replays of old messages).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Linkage-Signature"
TIMESTAMP_HEADER = "X-Linkage-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, *, window_s: int, now: float | None = None
) -> str | None:
    """Why the signature is refused, or None when it is valid."""
    if not secret:
        return "hand-off callbacks are not configured (LINKAGE_HANDOFF_WEBHOOK_SECRET)"
    if not signature or not timestamp:
        return f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}"
    try:
        stamp = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be unix seconds"
    current = now if now is not None else time.time()
    if abs(current - stamp) > window_s:
        return "timestamp outside the accepted window"
    given = signature.strip()
    given = given if given.startswith("sha256=") else f"sha256={given}"
    if not hmac.compare_digest(given, sign(secret, timestamp, body)):
        return "bad signature"
    return None
