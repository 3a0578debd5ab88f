"""紧急警情转交: hand a transferred case over to 110/119/120/122, record the acknowledgement, escalate when none comes.

Functions take a session and flush nothing themselves unless said; the caller owns the transaction. Every step a
person should know about is a line in the case's keyed history and a case event on ``linkage.dispatch.cases.v1``
(``cn.linkage.case.handoff_sent.v1``, ``…handoff_acknowledged.v1``, ``…handoff_escalated.v1``), so the command
center's display can count hand-offs awaiting their acknowledgement.

A ``transfer`` transition stages its hand-off through :class:`HandoffOnTransfer`, a listener of the core's
transitions (:mod:`services.dispatch.case.hooks`); ``case`` never imports this module (one direction:
``handoff`` → ``case``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.dispatch.case.flows import append_history
from services.dispatch.case.hooks import Transition
from services.dispatch.case.models import Case
from services.dispatch.case.service import stage_case_event
from services.dispatch.handoff.config import HandoffSettings
from services.dispatch.handoff.models import Handoff, HandoffSinkRecord
from shared.catalog import default_catalog
from shared.errors import NotFound

ACTOR = "system:handoff"
SERVICE_CENTERS: dict[str, str] = {
    "110": "110指挥中心",
    "119": "119消防救援指挥中心",
    "120": "120急救指挥中心",
    "122": "122交通事故报警台",
}
ALERT_NAMES: dict[int, str] = {1: "一级", 2: "二级", 3: "三级", 4: "四级", 5: "五级"}
STATE_NAMES: dict[str, str] = {"pending": "待推送", "sent": "已推送，待确认", "acknowledged": "已确认接警"}
DOCUMENT_SCHEMA = "cn.linkage.handoff.v1"


def center_name(service: str | None) -> str:
    return SERVICE_CENTERS.get(str(service or ""), f"{service or '110'}指挥中心")


def alert_name(level: int) -> str:
    return ALERT_NAMES.get(level, f"{level}级")


@dataclass(frozen=True)
class SendOutcome:
    """What one delivery attempt gave: taken (``ok``), maybe acknowledged at once with the platform's receipt."""

    ok: bool
    receipt_id: str | None = None
    acknowledged: bool = False
    error: str | None = None
    handled_by: str | None = None


# ------------------------------------------------------------------------------------------ staging


def stage_handoff(
    session: AsyncSession,
    case: Case,
    *,
    now: datetime,
    service: str,
    reason: str | None,
    settings: HandoffSettings | None = None,
) -> Handoff:
    """Record that ``case`` must be handed to ``service`` (called by the transfer itself, same transaction; the
    hand-off job sends it). Adds the row; flushes nothing (so it works inside a deferred batch of new cases)."""
    from services.dispatch.handoff.config import get_handoff_settings

    settings = settings or get_handoff_settings()
    handoff = Handoff(
        id=str(ULID()),
        case_id=case.id,
        tracking_code=case.tracking_code,
        service=service,
        reason=(reason or "")[:500] or None,
        state="pending",
        alert_level=1,
        escalations=0,
        attempts=0,
        next_attempt_at=now,
        ack_due_at=now + timedelta(seconds=settings.handoff_ack_timeout_s),
        transferred_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(handoff)
    return handoff


class HandoffOnTransfer:
    """Transition listener (installed by :func:`services.dispatch.wiring.install_listeners`): 紧急警情 — a
    ``transfer`` stages the hand-off to 110/119/120/122 in the same transaction (deferred or not: a case transferred
    by routing while it is opened is deferred); the hand-off job sends it."""

    async def on_transition(self, session: AsyncSession, case: Case, change: Transition) -> None:
        if change.command != "transfer":
            return
        service = str(change.details.get("service") or case.lead or "110")
        stage_handoff(session, case, now=change.now, service=service, reason=change.reason)


# ------------------------------------------------------------------------------------------ the document


def build_document(handoff: Handoff, case: Case, *, base_url: str, now: datetime) -> dict[str, Any]:
    """The JSON the platform receives: who, what, where, how to reach the caller, how to acknowledge."""
    catalog = default_catalog()
    street = catalog.get_department(case.street_code) if case.street_code else None
    reporter = {k: v for k, v in (case.reporter or {}).items() if k in ("phone", "name") and v}
    ack_url = f"{base_url.rstrip('/')}/api/v1/handoffs/{handoff.id}/ack" if base_url else None
    return {
        "schema": DOCUMENT_SCHEMA,
        "handoff_id": handoff.id,
        "case_id": case.id,
        "tracking_code": case.tracking_code,
        "service": handoff.service,
        "service_name": center_name(handoff.service),
        "reason": handoff.reason,
        "kind": case.kind,
        "channel": case.channel,
        "text": case.text,
        "address": case.address,
        "location": {"lon": case.lon, "lat": case.lat} if case.lon is not None and case.lat is not None else None,
        "place": {
            "street_code": case.street_code,
            "street_name": street.name if street else None,
            "community_code": case.community_code,
            "grid_code": case.grid_code,
        },
        "reporter": reporter,
        "received_at": case.received_at.isoformat(),
        "transferred_at": handoff.transferred_at.isoformat(),
        "attempt": handoff.attempts,
        "alert_level": handoff.alert_level,
        "escalations": handoff.escalations,
        "ack_url": ack_url,
        "sent_at": now.isoformat(),
    }


# ------------------------------------------------------------------------------------------ history + events


async def _locked_case(session: AsyncSession, case_id: str) -> Case | None:
    return (await session.execute(select(Case).where(Case.id == case_id).with_for_update())).scalar_one_or_none()


async def _record(
    session: AsyncSession,
    handoff: Handoff,
    action: str,
    *,
    now: datetime,
    reason: str,
    actor: str = ACTOR,
    details: dict[str, Any] | None = None,
) -> None:
    """One history line and one case event about the hand-off (the case stays ``transferred``)."""
    case = await _locked_case(session, handoff.case_id)
    if case is None:
        return
    info = {
        "handoff_id": handoff.id,
        "service": handoff.service,
        "alert_level": handoff.alert_level,
        "escalations": handoff.escalations,
        **(details or {}),
    }
    entry = append_history(
        session, case, action, from_state=case.state, actor=actor, reason=reason, details=info, public=False, at=now
    )
    case.updated_at = now
    stage_case_event(
        session, case, action, from_state=case.state, at=now, actor=actor, reason=reason, details=entry.details
    )


# ------------------------------------------------------------------------------------------ delivery


def backoff(settings: HandoffSettings, attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: base × 2^(attempts-1), capped, ±10 % jitter."""
    base = settings.handoff_backoff_s * (2 ** max(attempts - 1, 0))
    delay = min(base, settings.handoff_backoff_max_s) * random.uniform(0.9, 1.1)  # noqa: S311 - jitter
    return timedelta(seconds=delay)


async def claim_due(session: AsyncSession, settings: HandoffSettings, now: datetime) -> list[Handoff]:
    """Pending hand-offs due now, locked (SKIP LOCKED: any number of dispatch replicas), counted and leased."""
    stmt = (
        select(Handoff)
        .where(Handoff.state == "pending", Handoff.next_attempt_at <= now)
        .order_by(Handoff.next_attempt_at, Handoff.id)
        .limit(settings.handoff_batch_size)
        .with_for_update(skip_locked=True)
    )
    claimed = list((await session.execute(stmt)).scalars())
    for h in claimed:
        h.attempts = (h.attempts or 0) + 1
        h.next_attempt_at = now + timedelta(seconds=settings.handoff_lease_s)
        h.updated_at = now
    return claimed


async def record_attempt(
    session: AsyncSession,
    handoff_id: str,
    attempts: int,
    outcome: SendOutcome,
    *,
    adapter: str,
    settings: HandoffSettings,
    now: datetime,
) -> str:
    """Record one attempt's outcome (``sent`` | ``acknowledged`` | ``retry`` | ``stale``: another pass took over)."""
    handoff = (
        await session.execute(select(Handoff).where(Handoff.id == handoff_id).with_for_update())
    ).scalar_one_or_none()
    if handoff is None or handoff.state != "pending" or handoff.attempts != attempts:
        return "stale"
    handoff.adapter = adapter
    handoff.updated_at = now
    if not outcome.ok:
        handoff.last_error = (outcome.error or "unknown error")[:500]
        handoff.next_attempt_at = now + backoff(settings, attempts)
        return "retry"
    first = handoff.sent_at is None
    handoff.state = "sent"
    handoff.sent_at = handoff.sent_at or now
    handoff.last_error = None
    handoff.next_attempt_at = None
    center = center_name(handoff.service)
    if first:
        await _record(
            session,
            handoff,
            "handoff_sent",
            now=now,
            reason=f"警情已推送至{center}（第{attempts}次推送成功），等待接警确认",
            details={"attempts": attempts, "adapter": adapter},
        )
    if outcome.acknowledged and outcome.receipt_id:
        await acknowledge(
            session, handoff, receipt_id=outcome.receipt_id, by=outcome.handled_by or center, now=now, actor=ACTOR
        )
        return "acknowledged"
    return "sent"


async def acknowledge(
    session: AsyncSession,
    handoff: Handoff,
    *,
    receipt_id: str | None,
    by: str,
    now: datetime,
    actor: str = ACTOR,
    note: str | None = None,
) -> bool:
    """接警确认: the platform (or a dispatcher who phoned it) confirms it has the case. Idempotent: False when the
    hand-off was already acknowledged."""
    if handoff.acknowledged_at is not None:
        return False
    handoff.state = "acknowledged"
    handoff.acknowledged_at = now
    handoff.acknowledged_by = by[:120]
    handoff.receipt_id = (receipt_id or handoff.receipt_id or "")[:100] or None
    handoff.next_attempt_at = None
    handoff.updated_at = now
    waited = max(int((now - handoff.transferred_at).total_seconds()), 0)
    if actor == ACTOR:
        reason = f"{by}已确认接警，用时{_duration(waited)}"
    else:
        reason = f"派单员已与{center_name(handoff.service)}电话确认接警" + (f"：{note}" if note else "")
    details: dict[str, Any] = {"receipt_id": handoff.receipt_id, "by": by, "waited_s": waited}
    if note:
        details["note"] = note
    await _record(session, handoff, "handoff_acknowledged", now=now, reason=reason, actor=actor, details=details)
    return True


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}秒"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}分{rest}秒" if rest else f"{minutes}分钟"


async def escalate_due(session: AsyncSession, settings: HandoffSettings, now: datetime) -> int:
    """Hand-offs not acknowledged in time: alert level up (to the configured maximum), history line, re-sent."""
    stmt = (
        select(Handoff)
        .where(Handoff.acknowledged_at.is_(None), Handoff.ack_due_at <= now)
        .order_by(Handoff.ack_due_at, Handoff.id)
        .limit(settings.handoff_batch_size)
        .with_for_update(skip_locked=True)
    )
    due = list((await session.execute(stmt)).scalars())
    for handoff in due:
        waited = max(int((now - handoff.transferred_at).total_seconds()), 0)
        handoff.escalations += 1
        handoff.alert_level = min(handoff.alert_level + 1, settings.handoff_max_alert_level)
        handoff.ack_due_at = now + timedelta(seconds=settings.handoff_ack_timeout_s)
        handoff.state = "pending"  # re-sent at once, marked with the new level
        handoff.next_attempt_at = now
        handoff.updated_at = now
        center = center_name(handoff.service)
        reason = (
            f"转交{center}已{_duration(waited)}仍未收到接警确认，"
            f"警示升至{alert_name(handoff.alert_level)}，已重新推送，请派单员电话核实"
        )
        await _record(
            session,
            handoff,
            "handoff_escalated",
            now=now,
            reason=reason,
            details={"waited_s": waited, "last_error": handoff.last_error},
        )
    return len(due)


# ------------------------------------------------------------------------------------------ development sink


async def sink_receive(
    session: AsyncSession, handoff_id: str, document: dict[str, Any], *, now: datetime, delay_s: float
) -> str:
    """The development sink takes a document like the platform would; it acknowledges after ``delay_s``."""
    receipt = f"DEV{now.astimezone().strftime('%m%d')}{str(ULID())[-8:]}"
    session.add(
        HandoffSinkRecord(
            handoff_id=handoff_id,
            case_id=str(document.get("case_id") or ""),
            service=str(document.get("service") or ""),
            receipt_id=receipt,
            document=document,
            received_at=now,
            ack_at=now + timedelta(seconds=delay_s),
        )
    )
    return receipt


async def sink_acknowledge_due(session: AsyncSession, settings: HandoffSettings, now: datetime) -> int:
    """The development sink's acknowledgements that are due (as if the platform had called back)."""
    stmt = (
        select(HandoffSinkRecord)
        .where(HandoffSinkRecord.acknowledged_at.is_(None), HandoffSinkRecord.ack_at <= now)
        .order_by(HandoffSinkRecord.ack_at, HandoffSinkRecord.id)
        .limit(settings.handoff_batch_size)
        .with_for_update(skip_locked=True)
    )
    records = list((await session.execute(stmt)).scalars())
    done = 0
    for record in records:
        record.acknowledged_at = now
        handoff = (
            await session.execute(select(Handoff).where(Handoff.id == record.handoff_id).with_for_update())
        ).scalar_one_or_none()
        if handoff is None:
            continue
        label = f"{center_name(record.service)}（开发模拟）"
        done += int(await acknowledge(session, handoff, receipt_id=record.receipt_id, by=label, now=now))
    return done


async def sink_records(session: AsyncSession, *, limit: int = 100) -> list[HandoffSinkRecord]:
    stmt = select(HandoffSinkRecord).order_by(HandoffSinkRecord.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


# ------------------------------------------------------------------------------------------ reading


async def get(session: AsyncSession, handoff_id: str, *, lock: bool = False) -> Handoff:
    stmt = select(Handoff).where(Handoff.id == handoff_id)
    if lock:
        stmt = stmt.with_for_update()
    handoff = (await session.execute(stmt)).scalar_one_or_none()
    if handoff is None:
        raise NotFound(f"hand-off {handoff_id} not found")
    return handoff


async def find(
    session: AsyncSession,
    *,
    state: str = "all",
    case_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Handoff], int, int]:
    """(page, total matching, unacknowledged overall). ``state``: unacknowledged | acknowledged | all."""
    conditions: list[ColumnElement[bool]] = []
    if state == "unacknowledged":
        conditions.append(Handoff.acknowledged_at.is_(None))
    elif state == "acknowledged":
        conditions.append(Handoff.acknowledged_at.is_not(None))
    if case_id:
        conditions.append(Handoff.case_id == case_id)
    total = (await session.execute(select(func.count()).select_from(Handoff).where(*conditions))).scalar_one()
    unacked = (
        await session.execute(select(func.count()).select_from(Handoff).where(Handoff.acknowledged_at.is_(None)))
    ).scalar_one()
    order = (Handoff.alert_level.desc(), Handoff.transferred_at) if state == "unacknowledged" else ()
    stmt = (
        select(Handoff)
        .where(*conditions)
        .order_by(*order, Handoff.transferred_at.desc(), Handoff.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(stmt)).scalars()), int(total), int(unacked)
