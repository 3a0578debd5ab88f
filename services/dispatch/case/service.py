"""Case operations. Functions take a session and flush; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.routing.service import RoutingDecision, route
from shared import topics
from shared.catalog import default_catalog
from shared.events.cases import CaseEventV1, case_event
from shared.events.complaints import ComplaintReceivedV1, ComplaintSupplementedV1, PlaceRef, Reporter
from shared.outbox import add_event
from shared.tracing import continue_trace

OUTSIDE_DISTRICT_NOTE = "坐标不在本区范围内"


async def open_cases(
    session: AsyncSession,
    events: Sequence[ComplaintReceivedV1],
    *,
    traces: dict[str, str | None] | None = None,
    now: datetime | None = None,
) -> list[Case]:
    """Create one case per complaint (a complaint seen before is ignored), record ``created`` and route it:
    transfer (emergency), answer + close (knowledge base), close as solved on the spot (a grid worker's report),
    merge into an open duplicate, dispatch, or triage. Flushes. (Timers follow from the transitions: see
    sla.service.on_case_transition.) ``now``: when it happens (default: now; the demo history import passes
    the past)."""
    from services.dispatch.sla.service import schedule_cases_timers

    if not events:
        return []
    rows = []
    decisions: dict[str, RoutingDecision] = {}
    awaiting: dict[str, dict[str, Any]] = {}
    on_spot: dict[str, ComplaintReceivedV1] = {}
    for event in events:
        decision, waits = place_check(event, route(event))
        decisions[event.complaint_id] = decision
        if waits:
            awaiting[event.complaint_id] = {"awaits_place": True}
        row = _case_row(event, decision)
        if solved_on_spot(event, decision):  # 就地解决: closed at once, no handling limit, never dispatched
            on_spot[event.complaint_id] = event
            row.update(deadline_at=None, deadline_provisional=False, deadline_limit=None)
        rows.append(row)
    stmt = insert(Case).values(rows).on_conflict_do_nothing(index_elements=["complaint_id"]).returning(Case.id)
    created_ids = set((await session.execute(stmt)).scalars())
    if not created_ids:
        return []
    cases = list((await session.execute(select(Case).where(Case.id.in_(created_ids)))).scalars())
    now = now or datetime.now(UTC)
    # New cases are this transaction's own: transitions are deferred and written in one flush, and their
    # timers in one INSERT (a few statements per batch instead of ~10 per case).
    with session.no_autoflush:
        for case in sorted(cases, key=lambda c: c.received_at):
            with continue_trace((traces or {}).get(case.complaint_id), "open case"):
                if case.complaint_id in on_spot:
                    await _open_solved_on_spot(session, case, on_spot[case.complaint_id], now)
                    continue
                await _open_one(session, case, decisions[case.complaint_id], now, awaiting.get(case.complaint_id))
    await session.flush()
    await schedule_cases_timers(session, cases, now=now)
    return cases


def solved_on_spot(event: ComplaintReceivedV1, decision: RoutingDecision) -> bool:
    """就地解决: a grid worker's report marked solved on the spot (intake requires its photo); an emergency the
    classifier found in it is still transferred."""
    return event.channel == "grid" and event.solved_on_spot and decision.outcome != "transfer"


def _record_created(session: AsyncSession, case: Case, now: datetime, details: dict[str, Any] | None) -> None:
    """The case's public ``created`` history line and its ``created`` case event (with ``details``)."""
    from services.dispatch.case import flows

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
    stage_case_event(session, case, "created", from_state=None, at=now, details=details)


async def _open_solved_on_spot(session: AsyncSession, case: Case, event: ComplaintReceivedV1, now: datetime) -> None:
    """``created`` → ``solved_on_spot`` (the worker's photo stands for 核查) → ``closed``: recorded in the history,
    counted by analytics as received and closed, never dispatched, no timers."""
    from services.dispatch.case import flows

    _record_created(session, case, now, {"solved_on_spot": True})
    worker = (event.operator_id or str(event.reporter.user_id or "").removeprefix("grid:")) or None
    photos = [a.model_dump(exclude_none=True) for a in event.attachments]
    await flows.transition(
        session,
        case,
        "solve_on_spot",
        actor="grid",
        reason="网格员现场解决",
        now=now,
        defer=True,
        public=True,
        worker=worker,
        photos=photos,
    )
    await flows.transition(
        session,
        case,
        "close",
        actor="grid",
        reason="网格员现场解决，现场照片为证，直接结案",
        now=now,
        defer=True,
        solved_on_spot=True,
    )


def place_check(event: ComplaintReceivedV1, decision: RoutingDecision) -> tuple[RoutingDecision, bool]:
    """(decision, awaits_place). A complaint whose point lies outside the district is never dispatched inside
    it: it goes to triage with the place's note. ``awaits_place`` is True when the case goes to triage only
    for want of its place (with a street it would have been dispatched): a later supplement that places it
    routes it (:func:`supplement_cases`)."""
    place = event.place or PlaceRef()
    if place.street_code or decision.outcome not in ("dispatch", "triage"):
        return decision, False
    if place.outside_district:
        why = f"{place.note or OUTSIDE_DISTRICT_NOTE}，请核实位置后派单"
        triage = RoutingDecision(
            "triage", decision.category, decision.matter_code, confidence=decision.confidence, why=why
        )
        return triage, decision.outcome == "dispatch" or _dispatches_with_a_street(event)
    return decision, decision.outcome == "triage" and _dispatches_with_a_street(event)


def _dispatches_with_a_street(event: ComplaintReceivedV1) -> bool:
    streets = default_catalog().streets()
    if not streets:
        return False
    return route(event.model_copy(update={"place": PlaceRef(street_code=streets[0].code)})).outcome == "dispatch"


async def _open_one(
    session: AsyncSession,
    case: Case,
    decision: RoutingDecision,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    from services.dispatch.case import flows
    from services.dispatch.duplicate.service import merge_or_suggest

    transfer = {"transfer_to": decision.emergency_service} if decision.outcome == "transfer" else None
    _record_created(session, case, now, transfer)  # notify: the receipt
    if decision.outcome not in ("transfer", "answer") and await merge_or_suggest(session, case, defer=True) is not None:
        return  # 并单: a duplicate of an open case follows that case instead of being routed
    await flows.route_case(session, case, decision, now=now, defer=True, extra=extra)


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
    """补充: a later location, address, photo or text for a complaint reaches its case. A place fills in a case
    that had none (e.g. a WeChat user sending a location after the text; a point outside the district is
    replaced by one inside); the entry is recorded in history. A case waiting in triage only for its place
    (``awaits_place``) is then dispatched at once (actor ``routing``)."""
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
        placed = _fill_place(case, event, details)
        if event.location is not None and (case.lon is None or placed == "grid"):
            case.lon, case.lat = event.location.lon, event.location.lat
            details["location"] = {"lon": event.location.lon, "lat": event.location.lat}
        if event.attachments:
            details["attachments"] = [a.model_dump(exclude_none=True) for a in event.attachments]
        if event.text:
            details["text"] = event.text
        if not details:
            continue
        case.updated_at = now
        reason = f"补充位置后定位到{_where(event.place)}" if placed and event.place else "补充材料"
        flows.append_history(
            session,
            case,
            "supplemented",
            from_state=case.state,
            actor="citizen",
            reason=reason,
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
            reason=reason,
            details={k: v for k, v in details.items() if k != "text"},
        )
        applied += 1
        if placed and event.place and case.state == "triage":
            await _route_placed(session, case, _where(event.place), now)
    return applied


def _where(place: PlaceRef) -> str:
    if place.grid_code:
        return f"网格 {place.grid_name or place.grid_code}"
    return place.community_name or place.street_name or place.street_code or ""


def _fill_place(case: Case, event: ComplaintSupplementedV1, details: dict[str, Any]) -> str | None:
    """Take the supplement's place when the case lacks it: "grid" (grid now known), "street" (only the
    street/community now known), or None. Records ``placed`` (what analytics needs to move the case's
    count from where it was counted to its street and grid)."""
    place = event.place
    if place is None or case.grid_code:
        return None
    if place.grid_code:
        placed = "grid"
    elif place.street_code and not case.street_code:
        placed = "street"
    else:
        return None
    details["placed"] = {
        "from_street": case.street_code or "-",
        "from_grid": case.grid_code or "-",
        "category": case.category or "-",
        "created_at": case.created_at.isoformat() if case.created_at else None,
    }
    case.street_code = place.street_code or case.street_code
    case.community_code = place.community_code or case.community_code
    case.grid_code = place.grid_code
    details["grid_code"] = place.grid_code
    details["street_code"] = case.street_code
    return placed


async def _route_placed(session: AsyncSession, case: Case, where: str, now: datetime) -> None:
    """A case in triage that only lacked its place (its triage entry says ``awaits_place``) and is now placed:
    dispatch it to the matter's handlers with 属地 resolved to its street."""
    from services.dispatch.case import flows

    triaged = (
        await session.execute(
            select(CaseHistory.details)
            .where(CaseHistory.case_id == case.id, CaseHistory.action == "triaged")
            .order_by(CaseHistory.seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if not triaged or not triaged.get("awaits_place") or not case.matter_code:
        return
    catalog = default_catalog()
    matter = catalog.get_matter(case.matter_code)
    if matter is None or matter.is_emergency:
        return
    try:
        lead, co = catalog.resolve_handlers(matter, case.street_code)
    except (KeyError, ValueError):
        return
    await flows.transition(
        session,
        case,
        "dispatch",
        actor="routing",
        reason=f"补充位置后定位到{where}，自动派往 {lead.name}",
        now=now,
        lead=lead.code,
        co_handlers=[d.code for d in co],
        matter_code=matter.code,
        confidence=triaged.get("confidence"),
        placed_by_supplement=True,
    )
