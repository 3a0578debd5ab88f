"""Dispatch's reading of a dispatch API key (``GET /api/v1/whoami``): how intake, notify and analytics check keys
they do not store themselves; :class:`CachedWhoami` keeps each answer for a while (notify, analytics)."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import httpx

from shared.errors import DomainError
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

WHOAMI_TTL_S = 30.0
MAX_KEY_CHARS = 200


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


class DispatchUnavailable(DomainError):
    """503 with ``Retry-After``: a key could not be checked because dispatch did not answer."""

    status_code = 503
    code = "dispatch_unavailable"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


def plausible_key(key: str) -> bool:
    """Whether ``key`` is worth asking dispatch about (short enough, ASCII)."""
    return len(key) <= MAX_KEY_CHARS and key.isascii()


class CachedWhoami:
    """Dispatch's readings of keys, each kept ``ttl_s`` seconds (a revoked key stops working within it), the oldest
    dropped past ``size``; keys are held only as SHA-256 digests."""

    def __init__(self, ttl_s: float = WHOAMI_TTL_S, size: int = 1000) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._answers: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()

    async def identity(self, settings: Settings, key: str) -> dict[str, Any] | None:
        """Dispatch's reading of ``key`` (``{"role", "department", …}``), None when dispatch refuses it; raises
        :class:`DispatchUnavailable` when dispatch cannot answer."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        cached = self._answers.get(digest)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        try:
            answer = await whoami(settings, key)
        except DispatchUnreachable:
            raise DispatchUnavailable("暂时无法核验调度系统密钥（调度服务不可用），请稍后重试") from None
        self._answers[digest] = (now, answer)
        self._answers.move_to_end(digest)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)
        return answer
