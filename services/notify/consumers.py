from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.message.service import receipt_for, record_messages
from shared.consumer import ConsumedEvent
from shared.events.cases import CaseEventV1


async def handle_case_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    rows = []
    for event in events:
        payload = event.payload
        if isinstance(payload, CaseEventV1) and payload.action == "created":
            row = receipt_for(payload)
            if row:
                rows.append(row)
    await record_messages(session, rows)
