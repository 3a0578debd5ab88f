"""Compose citizen messages from case events and record them (development sink: nothing leaves)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.notify.message.models import Message
from shared import topics
from shared.events.cases import CaseEventV1
from shared.events.notify import MessageDeliveredV1
from shared.outbox import add_event

TEMPLATES = {
    "receipt": "【12345】您的诉求已受理，查询码{tracking_code}。我们将按时限办理并回复您，可凭查询码查询进度。",
}


def receipt_for(event: CaseEventV1) -> dict[str, object] | None:
    """The receipt SMS/WeChat message for a newly created case, or None if nobody to tell."""
    reporter = event.reporter
    if reporter is None or reporter.anonymous:
        return None
    if reporter.wechat_openid:
        channel, recipient = "wechat", reporter.wechat_openid
    elif reporter.phone:
        channel, recipient = "sms", reporter.phone
    else:
        return None
    return {
        "id": str(ULID()),
        "dedupe_key": f"receipt:{event.case_id}",
        "case_id": event.case_id,
        "tracking_code": event.tracking_code,
        "channel": channel,
        "recipient": recipient,
        "template": "receipt",
        "body": TEMPLATES["receipt"].format(tracking_code=event.tracking_code),
        "status": "sent",
    }


async def record_messages(session: AsyncSession, rows: Sequence[dict[str, object]]) -> int:
    if not rows:
        return 0
    stmt = insert(Message).values(list(rows)).on_conflict_do_nothing(index_elements=["dedupe_key"])
    stmt = stmt.returning(Message.id, Message.case_id, Message.tracking_code, Message.channel, Message.template)
    created = (await session.execute(stmt)).all()
    now = datetime.now(UTC)
    for msg_id, case_id, code, channel, template in created:
        add_event(
            session,
            topics.DELIVERIES,
            MessageDeliveredV1(message_id=msg_id, case_id=case_id, tracking_code=code, channel=channel,
                               template=template, status="sent", at=now),
            key=case_id or msg_id,
            source="notify",
        )
    return len(created)


async def list_messages(
    session: AsyncSession, *, tracking_code: str | None = None, case_id: str | None = None, limit: int = 100
) -> list[Message]:
    stmt = select(Message).order_by(Message.created_at.desc()).limit(limit)
    if tracking_code:
        stmt = stmt.where(Message.tracking_code == tracking_code)
    if case_id:
        stmt = stmt.where(Message.case_id == case_id)
    return list((await session.execute(stmt)).scalars())
