"""Cases without a grid that name different streets, in one consumer batch, are counted without a conflict.

PostgreSQL refuses an ``INSERT … ON CONFLICT DO UPDATE`` that touches the same row twice; the grid counts are
keyed on (day, grid, category), and a street-level place (``双桥子`` → 双桥子街道, no grid) is common.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.analytics.stats.models import GridDailyCount
from services.analytics.stats.service import apply_case_events, local_day
from shared.db import make_engine, make_sessionmaker
from shared.events.cases import case_event
from shared.events.complaints import PlaceRef
from shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def maker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings, "analytics", pool_size=2)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def created(street: str | None, grid: str | None, at: datetime) -> object:
    case_id = uuid.uuid4().hex[:26]
    return case_event(
        "created",
        case_id=case_id,
        tracking_code=case_id[:12],
        to_state="accepted",
        at=at,
        channel="hotline",
        category="ZX",
        place=PlaceRef(street_code=street, grid_code=grid),
    )


async def test_cases_without_a_grid_from_two_streets_in_one_batch(maker: async_sessionmaker[AsyncSession]) -> None:
    at = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # a day no other test uses
    events = [created("S01", None, at), created("S02", None, at), created(None, None, at), created("S01", "G0101", at)]
    async with maker() as session, session.begin():
        await apply_case_events(session, events)  # type: ignore[arg-type]
    async with maker() as session:
        total = await session.scalar(
            select(func.sum(GridDailyCount.count)).where(
                GridDailyCount.day == local_day(at), GridDailyCount.category == "ZX"
            )
        )
    assert total == 4
