"""Intake's consumer of ``linkage.analytics.hotspots.v1`` (group ``intake-hotspots``): one patrol task per hot
spot, for the workers of its grid (a redelivered or repeated hot spot opens nothing more)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.patrol.service import open_for_hotspot
from shared import topics
from shared.consumer import ConsumedEvent
from shared.events.patrol import HotspotDetectedV1

GROUP = "intake-hotspots"
TOPICS = (topics.HOTSPOTS,)


async def handle_hotspots(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    for e in events:
        if isinstance(e.payload, HotspotDetectedV1):
            await open_for_hotspot(session, e.payload)
    await session.flush()
