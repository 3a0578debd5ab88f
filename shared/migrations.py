"""Alembic per service schema. ``linkage migrate`` runs every service's migrations (idempotent).

Each service keeps its revisions in ``services/<name>/migrations/versions``; its ``env.py`` calls
:func:`run_env`. The schema is selected with ``search_path`` and holds its own version table.
Independent areas of one service may keep their own branch (``down_revision`` = the service's
first revision, a ``branch_labels`` of their own); ``upgrade`` applies every head.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import asyncpg_url
from shared.settings import SERVICE_NAMES, Settings, get_settings

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
_LOCK_KEY = 7_345_120_001


def alembic_config(service: str, settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("version_locations", str(SERVICES_DIR / service / "migrations" / "versions"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["schema"] = service
    cfg.attributes["database_url"] = settings.database_url
    return cfg


def upgrade(service: str, settings: Settings | None = None, revision: str = "heads") -> None:
    command.upgrade(alembic_config(service, settings or get_settings()), revision)


def upgrade_all(settings: Settings | None = None, services: tuple[str, ...] = SERVICE_NAMES) -> None:
    for service in services:
        upgrade(service, settings)


def run_env(config: Config) -> None:
    """Body of every service's ``env.py`` (online mode only)."""
    schema: str = config.attributes["schema"]
    url: str = config.attributes.get("database_url") or get_settings().database_url
    asyncio.run(_run_async(url, schema, config))


async def _run_async(url: str, schema: str, config: Config) -> None:
    engine = create_async_engine(
        asyncpg_url(url),
        poolclass=pool.NullPool,
        connect_args={"server_settings": {"search_path": f"{schema},public", "timezone": "UTC"}},
    )
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.commit()
        await conn.run_sync(_run_sync, schema, config)
        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
        await conn.commit()
    await engine.dispose()


def _run_sync(connection: Connection, schema: str, config: Config) -> None:
    from alembic import context

    context.configure(
        connection=connection,
        target_metadata=None,
        version_table_schema=schema,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
