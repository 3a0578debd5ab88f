"""Store complaints (idempotent per channel key) and stage ``complaint.received.v1`` in the outbox."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.intake.complaint.models import Complaint
from services.intake.complaint.schemas import ComplaintDraft
from shared import topics
from shared.events.complaints import ComplaintReceivedV1, GeoPoint, PlaceRef, Reporter
from shared.outbox import add_event

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols (5 bits each), no 0/O or 1/I to misread
TRACKING_RANDOM_SYMBOLS = 13  # 65 random bits: guessing one code is hopeless even without rate limits
CITIZEN_SECRET_SYMBOLS = 10  # 50 bits, checked behind a rate limit and against one code only
_ISSUED_SECRET = "_issued_citizen_secret"


def _random_symbols(count: int) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(count))


def new_tracking_code(now: datetime | None = None) -> str:
    """e.g. ``261124K7Q2PXW9HMT4RZC``: date (Asia/Shanghai is close enough for a label) + 13 random symbols."""
    stamp = (now or datetime.now(UTC)).strftime("%y%m%d")
    return stamp + _random_symbols(TRACKING_RANDOM_SYMBOLS)


def new_citizen_secret() -> str:
    """查询密码: given to the citizen once at filing; with the tracking code it opens their own complaint."""
    return _random_symbols(CITIZEN_SECRET_SYMBOLS)


def citizen_secret_hash(complaint_id: str, secret: str) -> str:
    return hashlib.sha256(f"{complaint_id}:{secret}".encode()).hexdigest()


def normalise_secret(secret: str) -> str:
    return secret.strip().upper().replace("-", "").replace(" ", "")


def check_citizen_secret(complaint: Complaint, secret: str | None) -> bool:
    if not secret or not complaint.citizen_secret_hash:
        return False
    actual = citizen_secret_hash(complaint.id, normalise_secret(secret)[:64])
    return hmac.compare_digest(actual, complaint.citizen_secret_hash)


def check_phone_last4(complaint: Complaint, last4: str | None) -> bool:
    digits = "".join(ch for ch in (complaint.reporter_phone or "") if ch.isdigit())
    given = (last4 or "").strip()
    return len(digits) >= 4 and len(given) == 4 and given.isdigit() and hmac.compare_digest(digits[-4:], given)


def issued_secret(complaint: Complaint) -> str | None:
    """The plaintext secret of a complaint created in this request (None for a replay or a loaded row)."""
    value = complaint.__dict__.get(_ISSUED_SECRET)
    return value if isinstance(value, str) else None


async def create_complaint(session: AsyncSession, draft: ComplaintDraft) -> tuple[Complaint, bool]:
    """Insert the complaint unless this channel key was seen; returns (complaint, created)."""
    return (await create_complaints(session, [draft]))[0]


async def create_complaints(session: AsyncSession, drafts: Sequence[ComplaintDraft]) -> list[tuple[Complaint, bool]]:
    """Insert many complaints in the caller's transaction (one statement), each unless its channel key was
    seen before (also earlier in the same batch); stage ``complaint.received.v1`` for every new one.
    Returns (complaint, created) per draft, in order."""
    keys = [(d.channel, d.channel_key) for d in drafts]
    first_draft = {key: draft for key, draft in reversed(list(zip(keys, drafts, strict=True)))}
    found: dict[tuple[str, str], tuple[Complaint, bool]] = {}
    pending = dict(first_draft)
    traces: dict[tuple[str, str], str | None] = {(d.channel, d.channel_key): d.traceparent for d in drafts}
    for _ in range(3):  # a clash on the random tracking code is retried with a new code
        if not pending:
            break
        rows = [_row_values(d, d.received_at or datetime.now(UTC)) for d in pending.values()]
        issued = {(row["channel"], row["channel_key"]): secret for row in rows if (secret := _with_secret(row))}
        inserted = (await session.scalars(insert(Complaint).on_conflict_do_nothing().returning(Complaint), rows)).all()
        for complaint in inserted:
            key = (complaint.channel, complaint.channel_key)
            complaint.__dict__[_ISSUED_SECRET] = issued.get(key)
            found[key] = (complaint, True)
            add_event(
                session,
                topics.COMPLAINTS,
                received_event(complaint),
                key=complaint.id,
                source="intake",
                traceparent=traces.get(key),
            )
        missing = [key for key in pending if key not in found]
        for complaint in await _by_channel_keys(session, missing):
            found[(complaint.channel, complaint.channel_key)] = (complaint, False)
        pending = {key: pending[key] for key in missing if key not in found}
    if pending:
        raise RuntimeError(f"could not store complaints {sorted(pending)}")
    results: list[tuple[Complaint, bool]] = []
    seen: set[tuple[str, str]] = set()
    for key in keys:
        complaint, created = found[key]
        results.append((complaint, created and key not in seen))
        seen.add(key)
    return results


async def _by_channel_keys(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> list[Complaint]:
    if not keys:
        return []
    stmt = select(Complaint).where(tuple_(Complaint.channel, Complaint.channel_key).in_(list(keys)))
    return list((await session.execute(stmt)).scalars())


def _with_secret(row: dict[str, object]) -> str:
    """Give a row a fresh citizen secret (stored hashed); return the plaintext."""
    secret = new_citizen_secret()
    row["citizen_secret_hash"] = citizen_secret_hash(str(row["id"]), secret)
    return secret


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
        select(Complaint).where(Complaint.reporter_phone == phone).order_by(Complaint.received_at.desc()).limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
