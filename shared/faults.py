"""Telling infrastructure faults (database or broker away, connection lost) from bad data.

An infrastructure fault is retried until the infrastructure is back; it never makes a record poison, a
request a 500, or a background task give up. Everything else is a deterministic failure of that input.
"""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATE classes meaning "try again later", not "this input is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown, cannot connect now),
# 58 system error, 40 transaction rollback (serialization failure, deadlock), 55P03 lock not available.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58", "40")
_TRANSIENT_SQLSTATES = ("55P03", "HV000")


def _sqlstate(exc: BaseException) -> str:
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if state:
            return str(state)
    return ""


def _is_asyncpg_connection_error(exc: BaseException) -> bool:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(
        exc,
        asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.InterfaceError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.ConnectionDoesNotExistError
        | asyncpg.exceptions.InternalClientError,
    )


def _one_is_infrastructure(exc: BaseException) -> bool:
    if isinstance(exc, OSError | ConnectionError | TimeoutError | asyncio.TimeoutError | KafkaError):
        return True
    if isinstance(exc, DisconnectionError | PoolTimeoutError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = _sqlstate(exc)
        if state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and not state:
            return True
    if _is_asyncpg_connection_error(exc):
        return True
    state = _sqlstate(exc)
    return bool(state) and (state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES)


def is_infrastructure_error(exc: BaseException) -> bool:
    """True when ``exc`` (or anything it was raised from) says the database or the broker is unavailable."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _one_is_infrastructure(current):
            return True
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and _one_is_infrastructure(orig):
            return True
        current = current.__cause__
    return False


class Backoff:
    """Capped exponential backoff: ``initial``, doubled per failure up to ``cap``; ``reset`` after a success."""

    def __init__(self, initial: float = 0.2, cap: float = 5.0) -> None:
        self.initial = initial
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * float(2**self.failures))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
