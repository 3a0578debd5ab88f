"""Store complaints (idempotent per channel key) and stage ``complaint.received.v1`` in the outbox."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.intake.complaint.models import Complaint
from services.intake.complaint.schemas import ComplaintDraft
from shared import topics
from shared.events.complaints import ComplaintReceivedV1, GeoPoint, PlaceRef, Reporter
from shared.outbox import add_event

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_tracking_code(now: datetime | None = None) -> str:
    """e.g. ``261124K7Q2PX``: date (Asia/Shanghai is close enough for a label) + 6 random symbols."""
    stamp = (now or datetime.now(UTC)).strftime("%y%m%d")
    return stamp + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))


async def create_complaint(session: AsyncSession, draft: ComplaintDraft) -> tuple[Complaint, bool]:
    """Insert the complaint unless this channel key was seen; returns (complaint, created)."""
    received_at = draft.received_at or datetime.now(UTC)
    values = _row_values(draft, received_at)
    stmt = (
        insert(Complaint)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["channel", "channel_key"])
        .returning(Complaint.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    if inserted is None:
        existing = await get_by_channel_key(session, draft.channel, draft.channel_key)
        assert existing is not None, "conflicting row must exist"
        return existing, False
    complaint = await session.get(Complaint, inserted)
    assert complaint is not None
    add_event(session, topics.COMPLAINTS, received_event(complaint), key=complaint.id, source="intake")
    return complaint, True


def _row_values(draft: ComplaintDraft, received_at: datetime) -> dict[str, object]:
    place = draft.place
    return {
        "id": str(ULID()),
        "tracking_code": new_tracking_code(received_at),
        "channel": draft.channel,
        "channel_key": draft.channel_key,
        "kind": draft.kind or "投诉",
        "text": draft.text,
        "address": draft.address,
        "address_status": draft.address_status,
        "lon": draft.location.lon if draft.location else None,
        "lat": draft.location.lat if draft.location else None,
        "location_source": draft.location.source if draft.location else None,
        "street_code": place.street_code if place else None,
        "community_code": place.community_code if place else None,
        "grid_code": place.grid_code if place else None,
        "place": place.model_dump() if place else None,
        "reporter_phone": draft.reporter.phone,
        "reporter": draft.reporter.model_dump(exclude_none=True),
        "attachments": [a.model_dump(exclude_none=True) for a in draft.attachments],
        "suggestions": draft.suggestions,
        "matter_code": draft.matter_code,
        "category": draft.category or (draft.matter_code[:2] if draft.matter_code else None),
        "emergency": draft.emergency.model_dump() if draft.emergency else None,
        "solved_on_spot": draft.solved_on_spot,
        "outside_own_grid": draft.outside_own_grid,
        "operator_id": draft.operator_id,
        "received_at": received_at,
    }


def received_event(c: Complaint) -> ComplaintReceivedV1:
    return ComplaintReceivedV1(
        complaint_id=c.id,
        tracking_code=c.tracking_code,
        channel=c.channel,  # type: ignore[arg-type]
        channel_key=c.channel_key,
        kind=c.kind,  # type: ignore[arg-type]
        text=c.text,
        address=c.address,
        address_status=c.address_status,  # type: ignore[arg-type]
        location=GeoPoint(lon=c.lon, lat=c.lat, source=c.location_source or "unknown")
        if c.lon is not None and c.lat is not None
        else None,
        place=PlaceRef(**c.place) if c.place else None,
        reporter=Reporter(**c.reporter),
        attachments=c.attachments,  # type: ignore[arg-type]
        suggestions=[s for s in c.suggestions if "category" in s],  # type: ignore[misc]
        matter_code=c.matter_code,
        emergency=c.emergency,  # type: ignore[arg-type]
        solved_on_spot=c.solved_on_spot,
        outside_own_grid=c.outside_own_grid,
        received_at=c.received_at,
        operator_id=c.operator_id,
    )


async def get_by_channel_key(session: AsyncSession, channel: str, key: str) -> Complaint | None:
    stmt = select(Complaint).where(Complaint.channel == channel, Complaint.channel_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(session: AsyncSession, complaint_id: str) -> Complaint | None:
    return await session.get(Complaint, complaint_id)


async def get_by_tracking_code(session: AsyncSession, code: str) -> Complaint | None:
    stmt = select(Complaint).where(Complaint.tracking_code == code)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_by_phone(session: AsyncSession, phone: str, limit: int = 20) -> list[Complaint]:
    stmt = (
        select(Complaint)
        .where(Complaint.reporter_phone == phone)
        .order_by(Complaint.received_at.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
