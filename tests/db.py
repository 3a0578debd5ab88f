"""Session makers on one service schema of the test database, as session-wide fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings


def sessions_fixture(schema: str) -> Callable[..., Any]:
    """``maker = sessions_fixture("dispatch")`` in a test module gives its tests a ``maker`` fixture."""

    @pytest.fixture(scope="module")  # module: integration tests have their own (package) database
    async def maker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
        engine = make_engine(settings, schema, pool_size=2)
        try:
            yield make_sessionmaker(engine)
        finally:
            await engine.dispose()

    return maker
