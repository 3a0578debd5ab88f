"""Signed console session cookies: ``v1.<operator id>.<issued µs>.<expires s>.<HMAC-SHA256>``.

Nothing is stored per session: the HMAC (key ``LINKAGE_SESSION_SECRET``) proves the server issued the
value, the expiry bounds it, and an account's ``sessions_revoked_at`` (logout, disabling) ends every
session issued before it. Rotating the secret ends all sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

COOKIE_NAME = "linkage_console"
VERSION = "v1"


@dataclass(frozen=True)
class ConsoleSession:
    operator_id: int
    issued_at: datetime
    expires_at: datetime


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"linkage-console-session:{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_session(secret: str, operator_id: int, *, lifetime: timedelta, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    issued_us = int(now.timestamp() * 1_000_000)
    expires_s = int((now + lifetime).timestamp())
    payload = f"{VERSION}.{operator_id}.{issued_us}.{expires_s}"
    return f"{payload}.{_mac(secret, payload)}"


def read_session(secret: str, value: str | None, *, now: datetime | None = None) -> ConsoleSession | None:
    """The session a cookie value proves, or None if it is missing, malformed, tampered with or expired."""
    if not value:
        return None
    payload, _, mac = value.strip().rpartition(".")
    parts = payload.split(".")
    if len(parts) != 4 or parts[0] != VERSION or not all(p.isdigit() for p in parts[1:]):
        return None
    if not hmac.compare_digest(_mac(secret, payload).encode(), mac.encode()):
        return None
    issued = datetime.fromtimestamp(int(parts[2]) / 1_000_000, UTC)
    expires = datetime.fromtimestamp(int(parts[3]), UTC)
    if expires <= (now or datetime.now(UTC)):
        return None
    return ConsoleSession(operator_id=int(parts[1]), issued_at=issued, expires_at=expires)
