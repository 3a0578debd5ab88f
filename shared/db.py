"""Async engine and sessions, one PostgreSQL schema per service (selected with search_path)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from shared import sqlcache
from shared.settings import Settings

sqlcache.install()  # before any statement is built: ON CONFLICT inserts use the compiled-statement cache


class Base(DeclarativeBase):
    """Declarative base for every service; tables are unqualified and land in the service's schema."""


def table_of(model: type[Any]) -> Table:
    """The Core table of a mapped class. Batch writes execute ``insert(table_of(M))`` with a list of row dicts
    (one cached statement, executemany) instead of ``insert(M).values(rows)``: SQLAlchemy never caches a
    multi-row VALUES statement, so that form is compiled again on every batch."""
    return cast(Table, model.__table__)


def sync_url(url: str) -> str:
    """Normalise any postgres URL to the plain ``postgresql://`` form (for psycopg-less tools, logs)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def asyncpg_url(url: str) -> str:
    """``postgresql://user:@/db?host=/sock`` → ``postgresql+asyncpg://user@/db?host=/sock``."""
    parts = urlsplit(sync_url(url))
    netloc = parts.netloc.replace(":@", "@")
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k in {"host", "port", "ssl"}])
    return urlunsplit(("postgresql+asyncpg", netloc, parts.path, query, ""))


def make_engine(settings: Settings, schema: str, *, pool_size: int | None = None) -> AsyncEngine:
    return create_async_engine(
        asyncpg_url(settings.database_url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,  # a round trip per checkout; broken connections are replaced on error
        pool_recycle=1800,
        pool_timeout=10,
        # a server that does not answer (paused, network gone) fails fast instead of after a minute
        connect_args={"server_settings": {"search_path": f"{schema},public", "timezone": "UTC"}, "timeout": 5},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency body: one session per request; the route commits explicitly."""
    async with maker() as session:
        yield session
