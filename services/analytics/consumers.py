from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.stats.service import apply_case_events
from shared.consumer import ConsumedEvent
from shared.events.cases import CaseEventV1


async def handle_case_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    await apply_case_events(session, [e.payload for e in events if isinstance(e.payload, CaseEventV1)])
