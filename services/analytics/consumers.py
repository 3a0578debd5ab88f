"""What the analytics consumer reads and how a batch is applied (also what ``linkage analytics rebuild`` replays)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.measures.projection import apply_measure_events
from services.analytics.stats.service import apply_case_events
from shared import topics
from shared.consumer import ConsumedEvent
from shared.events.cases import CaseEventV1

GROUP = "analytics"
TOPICS = (topics.CASES,)
PROJECTION_TABLES = (
    "daily_counts",
    "grid_daily_counts",
    "case_status",
    "ticker_events",
    "measure_cases",
    "measure_facts",
)
"""Tables built only from the consumed topics: a rebuild replaces them. Source data of analytics (逆向评价 in
``department_reviews``) is not among them and is kept."""


async def handle_case_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    cases = [e.payload for e in events if isinstance(e.payload, CaseEventV1)]
    await apply_case_events(session, cases)
    await apply_measure_events(session, cases)
