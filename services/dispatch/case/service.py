"""Case operations. Functions take a session and flush; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.dispatch.case.models import Case
from services.dispatch.routing.service import RoutingDecision, route
from shared import topics
from shared.events.cases import CaseEventV1, case_event
from shared.events.complaints import ComplaintReceivedV1, ComplaintSupplementedV1, PlaceRef, Reporter
from shared.outbox import add_event
from shared.tracing import continue_trace


async def open_cases(
    session: AsyncSession, events: Sequence[ComplaintReceivedV1], *, traces: dict[str, str | None] | None = None
) -> list[Case]:
    """Create one case per complaint (a complaint seen before is ignored), record ``created`` and route it:
    transfer (emergency), answer + close (knowledge base), merge into an open duplicate, dispatch, or
    triage. Flushes. (Timers follow from the transitions: see sla.service.on_case_transition.)"""
    from services.dispatch.sla.service import schedule_cases_timers

    if not events:
        return []
    rows = []
    decisions: dict[str, RoutingDecision] = {}
    for event in events:
        decision = route(event)
        decisions[event.complaint_id] = decision
        rows.append(_case_row(event, decision))
    stmt = insert(Case).values(rows).on_conflict_do_nothing(index_elements=["complaint_id"]).returning(Case.id)
    created_ids = set((await session.execute(stmt)).scalars())
    if not created_ids:
        return []
    cases = list((await session.execute(select(Case).where(Case.id.in_(created_ids)))).scalars())
    now = datetime.now(UTC)
    # New cases are this transaction's own: transitions are deferred and written in one flush, and their
    # timers in one INSERT (a few statements per batch instead of ~10 per case).
    with session.no_autoflush:
        for case in sorted(cases, key=lambda c: c.received_at):
            with continue_trace((traces or {}).get(case.complaint_id), "open case"):
                await _open_one(session, case, decisions[case.complaint_id], now)
    await session.flush()
    await schedule_cases_timers(session, cases, now=now)
    return cases


async def _open_one(session: AsyncSession, case: Case, decision: RoutingDecision, now: datetime) -> None:
    from services.dispatch.case import flows
    from services.dispatch.duplicate.service import merge_or_suggest

    flows.append_history(
        session,
        case,
        "created",
        from_state=None,
        actor="intake",
        reason=None,
        details={"channel": case.channel, "kind": case.kind},
        public=True,
        at=now,
    )
    stage_case_event(session, case, "created", from_state=None, at=now)
    if decision.outcome not in ("transfer", "answer") and await merge_or_suggest(session, case, defer=True) is not None:
        return  # 并单: a duplicate of an open case follows that case instead of being routed
    await flows.route_case(session, case, decision, now=now, defer=True)


def _case_row(event: ComplaintReceivedV1, decision: RoutingDecision) -> dict[str, object]:
    from services.dispatch.case.flows import deadline_for, limit_for_kind

    place = event.place or PlaceRef()
    limit = limit_for_kind(decision.matter_code, event.kind)
    deadline, provisional = deadline_for(event.received_at, limit)
    return {
        "id": str(ULID()),
        "tracking_code": event.tracking_code,
        "complaint_id": event.complaint_id,
        "state": "accepted",
        "channel": event.channel,
        "kind": event.kind,
        "text": event.text,
        "address": event.address,
        "lon": event.location.lon if event.location else None,
        "lat": event.location.lat if event.location else None,
        "street_code": place.street_code,
        "community_code": place.community_code,
        "grid_code": place.grid_code,
        "category": decision.category,
        "matter_code": decision.matter_code,
        "lead": None,
        "co_handlers": [],
        "reporter": event.reporter.model_dump(exclude_none=True),
        "emergency": event.emergency.model_dump() if event.emergency else None,
        "received_at": event.received_at,
        "deadline_at": deadline,
        "deadline_provisional": provisional,
        "deadline_limit": str(limit),
        "version": 1,
    }


def stage_case_event(
    session: AsyncSession,
    case: Case,
    action: str,
    *,
    from_state: str | None,
    at: datetime,
    actor: str = "system",
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> CaseEventV1:
    event = case_event(
        action,
        case_id=case.id,
        tracking_code=case.tracking_code,
        complaint_id=case.complaint_id,
        from_state=from_state,
        to_state=case.state,
        actor=actor,
        reason=reason,
        at=at,
        channel=case.channel,
        kind=case.kind,
        category=case.category,
        matter_code=case.matter_code,
        lead=case.lead,
        co_handlers=case.co_handlers,
        place=PlaceRef(street_code=case.street_code, community_code=case.community_code, grid_code=case.grid_code),
        deadline=case.deadline_at,
        deadline_provisional=case.deadline_provisional,
        received_at=case.received_at,
        reporter=Reporter(**case.reporter) if action == "created" else None,
        details=details or {},
    )
    add_event(session, topics.CASES, event, key=case.id, source="dispatch")
    return event


async def get(session: AsyncSession, case_id: str) -> Case | None:
    return await session.get(Case, case_id)


async def find(
    session: AsyncSession,
    *,
    complaint_ids: Sequence[str] = (),
    tracking_code: str | None = None,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Case]:
    stmt = select(Case).order_by(Case.created_at.desc()).limit(limit).offset(offset)
    if complaint_ids:
        stmt = stmt.where(Case.complaint_id.in_(list(complaint_ids)))
    if tracking_code:
        stmt = stmt.where(Case.tracking_code == tracking_code)
    if state:
        stmt = stmt.where(Case.state == state)
    return list((await session.execute(stmt)).scalars())


async def supplement_cases(session: AsyncSession, events: Sequence[ComplaintSupplementedV1]) -> int:
    """补充: a later location, photo or text for a complaint reaches its case. A location fills in a case
    that had none (e.g. a WeChat user sending it after the text); the entry is recorded in history."""
    from services.dispatch.case import flows

    if not events:
        return 0
    ids = sorted({e.complaint_id for e in events})
    cases = {
        c.complaint_id: c
        for c in (
            await session.execute(select(Case).where(Case.complaint_id.in_(ids)).order_by(Case.id).with_for_update())
        ).scalars()
    }
    applied = 0
    now = datetime.now(UTC)
    for event in events:
        case = cases.get(event.complaint_id)
        if case is None:
            continue  # a complaint that never became a case (cannot happen in order; ignore)
        details: dict[str, Any] = {}
        if event.location is not None and case.lon is None:
            case.lon, case.lat = event.location.lon, event.location.lat
            details["location"] = {"lon": event.location.lon, "lat": event.location.lat}
        if event.place is not None and not case.grid_code:
            case.street_code = event.place.street_code or case.street_code
            case.community_code = event.place.community_code or case.community_code
            case.grid_code = event.place.grid_code
            details["grid_code"] = event.place.grid_code
        if event.attachments:
            details["attachments"] = [a.model_dump(exclude_none=True) for a in event.attachments]
        if event.text:
            details["text"] = event.text
        if not details:
            continue
        case.updated_at = now
        flows.append_history(
            session,
            case,
            "supplemented",
            from_state=case.state,
            actor="citizen",
            reason="补充材料",
            details=details,
            public=False,
            at=now,
        )
        stage_case_event(
            session,
            case,
            "supplemented",
            from_state=case.state,
            at=now,
            actor="citizen",
            details={k: v for k, v in details.items() if k != "text"},
        )
        applied += 1
    return applied
