"""Dispatch's topic handlers: complaints in → cases out."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case.flows import supplement_cases
from services.dispatch.opening import open_cases
from shared.consumer import ConsumedEvent
from shared.events.complaints import ComplaintReceivedV1, ComplaintSupplementedV1


async def handle_complaints(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    # one complaint's events share a partition, so its received event comes before its supplements
    received = [(e.payload, e.envelope.traceparent) for e in events if isinstance(e.payload, ComplaintReceivedV1)]
    await open_cases(session, [p for p, _ in received], traces={p.complaint_id: tp for p, tp in received})
    await supplement_cases(session, [e.payload for e in events if isinstance(e.payload, ComplaintSupplementedV1)])
