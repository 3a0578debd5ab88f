"""Dispatch's reading of a dispatch API key (``GET /api/v1/whoami``): how intake and notify check keys they
do not store themselves."""

from __future__ import annotations

from typing import Any

import httpx

from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)


class DispatchUnreachable(Exception):
    """Dispatch did not answer (network error, timeout, 5xx or garbage)."""


async def whoami(settings: Settings, api_key: str) -> dict[str, Any] | None:
    """Dispatch's reading of a dispatch API key: ``{"role", "department", "label", …}``, or None if dispatch
    refuses it (401/403). Raises :class:`DispatchUnreachable` when dispatch cannot answer."""
    url = f"{settings.dispatch_url.rstrip('/')}/api/v1/whoami"
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(settings.dispatch_timeout_s)) as client:
            r = await client.get(url, headers={"X-API-Key": api_key})
    except (httpx.HTTPError, UnicodeError) as exc:
        log.warning("dispatch unreachable for whoami", error=repr(exc))
        raise DispatchUnreachable(repr(exc)) from None
    if r.status_code in (401, 403):
        return None
    try:
        data = r.json() if r.status_code == 200 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.warning("dispatch whoami answered unexpectedly", status=r.status_code)
        raise DispatchUnreachable(f"HTTP {r.status_code}")
    return data
