"""What the analytics consumer reads and how a batch is applied (also what ``linkage analytics rebuild`` replays)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.handoffs.service import apply_handoff_events
from services.analytics.measures.projection import apply_measure_events
from services.analytics.stats.service import apply_case_events
from shared import topics
from shared.consumer import BatchHandler, ConsumedEvent
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
    "handoff_status",
)
"""Tables built only from the case stream: a rebuild replaces them. Source data of analytics (逆向评价 in
``department_reviews``, the hot-spot alerts the scanner raised) is not among them and is kept."""


async def handle_case_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    cases = [e.payload for e in events if isinstance(e.payload, CaseEventV1)]
    await apply_case_events(session, cases)
    await apply_measure_events(session, cases)
    await apply_handoff_events(session, cases)


@dataclass(frozen=True)
class Projection:
    """Tables one consumer group builds from its topics alone (what ``linkage analytics rebuild`` replays)."""

    group: str
    topics: tuple[str, ...]
    handler: BatchHandler
    tables: tuple[str, ...]


def projections() -> tuple[Projection, ...]:
    """Every projection of analytics: the case stream's, and the patrol tasks counted from intake's events."""
    from services.analytics.hotspots import consumers as patrol

    return (
        Projection(GROUP, TOPICS, handle_case_events, PROJECTION_TABLES),
        Projection(patrol.GROUP, tuple(patrol.TOPICS), patrol.handle_patrol_events, ("patrol_task_status",)),
    )
