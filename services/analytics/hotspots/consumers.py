"""Analytics' consumer of ``linkage.intake.patrols.v1`` (group ``analytics-patrol``): patrol tasks counted."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.hotspots.service import apply_patrol_events
from shared import topics
from shared.consumer import ConsumedEvent
from shared.events.patrol import PatrolTaskDoneV1, PatrolTaskOpenedV1

GROUP = "analytics-patrol"
TOPICS = (topics.PATROLS,)


async def handle_patrol_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    tasks = [e.payload for e in events if isinstance(e.payload, PatrolTaskOpenedV1 | PatrolTaskDoneV1)]
    await apply_patrol_events(session, tasks)
