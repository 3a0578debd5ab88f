"""Case events → contact book, last known state, survey tokens, pending messages. Nothing is sent here (the
delivery job sends), so a slow SMS gateway never holds up the consumer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.config import NotifySettings
from services.notify.contact import service as contacts
from services.notify.message.service import compose, record_messages
from services.notify.survey import tokens
from shared.consumer import BatchHandler, ConsumedEvent
from shared.events.cases import CaseEventV1


def case_event_handler(settings: NotifySettings, *, base_url: str = "") -> BatchHandler:
    async def handle_case_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
        case_events = [(e.id, e.payload, e.envelope.traceparent) for e in events if isinstance(e.payload, CaseEventV1)]
        book = await contacts.load(session, (p.case_id for _, p, _ in case_events))
        rows: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        ttl = timedelta(hours=settings.survey_token_ttl_hours)
        for event_id, payload, traceparent in case_events:
            contact = contacts.observe(session, book, payload)
            token = None
            if payload.action == "replied" and contact.channel and contact.recipient:
                token = tokens.issue(session, contact, now=now, ttl=ttl)  # this round's credential, in the link
            composed = compose(payload, event_id, contact, settings=settings, base_url=base_url, survey_token=token)
            rows.extend({**row, "traceparent": traceparent} for row in composed)  # sending continues the trace
        await session.flush()
        await record_messages(session, rows)

    return handle_case_events
