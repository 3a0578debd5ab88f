"""Rate limits for unauthenticated lookups: a token bucket per (scope, client address).

Use as a FastAPI dependency: ``dependencies=[Depends(rate_limit("track", per_minute=30))]``. A refused
request gets ``429`` with ``Retry-After`` and a JSON body. Buckets live in the process (per replica).
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
