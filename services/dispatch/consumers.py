"""Dispatch's topic handlers: complaints in → cases out."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case.service import open_cases
from shared.consumer import ConsumedEvent
from shared.events.complaints import ComplaintReceivedV1


async def handle_complaints(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    received = [e.payload for e in events if isinstance(e.payload, ComplaintReceivedV1)]
    await open_cases(session, received)
