"""Rate limits for unauthenticated lookups: a token bucket per (scope, client address).

Use as a FastAPI dependency: ``dependencies=[Depends(rate_limit("track", per_minute=30))]``. A refused
request gets ``429`` with ``Retry-After`` and a JSON body. Buckets live in the process (per replica).
:func:`public_rate_limit` / :func:`service_rate_limit` take their limits from the service's settings
(``LINKAGE_PUBLIC_RATE_PER_MINUTE``/``_BURST``, ``LINKAGE_SERVICE_RATE_…``) and skip the addresses in
``LINKAGE_RATE_LIMIT_EXEMPT``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from prometheus_client import Counter

from shared.errors import DomainError
from shared.settings import Settings, get_settings

LIMITED = Counter("linkage_rate_limited_total", "Requests refused by a rate limit", ["scope"])

_MAX_BUCKETS = 50_000


class TooManyRequests(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``capacity`` requests at once, refilled at ``per_minute`` / 60 a second; oldest buckets evicted."""

    def __init__(self, per_minute: float, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, int(per_minute)))
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.pop(key, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        while len(self._buckets) > _MAX_BUCKETS:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else 3600.0


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limit(scope: str, *, per_minute: float, burst: int | None = None) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing more than ``per_minute`` requests a minute from one client address."""
    buckets = TokenBuckets(per_minute, burst)

    async def check(request: Request) -> None:
        wait = buckets.take(f"{scope}:{client_address(request)}")
        if wait > 0:
            LIMITED.labels(scope).inc()
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(f"查询过于频繁，请 {seconds} 秒后再试", retry_after_s=seconds)

    check.buckets = buckets  # type: ignore[attr-defined]  # tests reset or inspect it
    return check


def _settings_of(request: Request) -> Settings:
    runtime = getattr(request.app.state, "runtime", None)
    settings = getattr(runtime, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


class SettingsRateLimit:
    """A rate-limit dependency whose limits come from the service's settings (read at the first request)."""

    def __init__(self, scope: str, limits: Callable[[Settings], tuple[float, int]]) -> None:
        self.scope = scope
        self.limits = limits
        self._buckets: dict[tuple[float, int], TokenBuckets] = {}

    def buckets(self, settings: Settings) -> TokenBuckets:
        key = self.limits(settings)
        if key not in self._buckets:
            self._buckets[key] = TokenBuckets(*key)
        return self._buckets[key]

    def check(self, request: Request) -> None:
        """Raise :class:`TooManyRequests` when this client used up its requests."""
        settings = _settings_of(request)
        address = client_address(request)
        if address in {a.strip() for a in settings.rate_limit_exempt.split(",") if a.strip()}:
            return
        wait = self.buckets(settings).take(f"{self.scope}:{address}")
        if wait > 0:
            LIMITED.labels(self.scope).inc()
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(f"查询过于频繁，请 {seconds} 秒后再试", retry_after_s=seconds)

    async def __call__(self, request: Request) -> None:
        self.check(request)


def public_rate_limit(scope: str) -> SettingsRateLimit:
    """Unauthenticated lookups and public listings (``LINKAGE_PUBLIC_RATE_PER_MINUTE``, ``…_BURST``)."""
    return SettingsRateLimit(scope, lambda s: (s.public_rate_per_minute, s.public_rate_burst))


def service_rate_limit(scope: str) -> SettingsRateLimit:
    """Unkeyed reads other services make in bulk (``LINKAGE_SERVICE_RATE_PER_MINUTE``, ``…_BURST``)."""
    return SettingsRateLimit(scope, lambda s: (s.service_rate_per_minute, s.service_rate_burst))
