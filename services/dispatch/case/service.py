"""Case rows and case events: what a new case's row holds, staging a case event, reading cases.

Functions take a session and flush nothing unless said; the caller owns the transaction. This module sits below
:mod:`services.dispatch.case.flows` (the transitions) and never imports it; opening cases from complaints is
:mod:`services.dispatch.opening`, supplements reaching a case are :func:`services.dispatch.case.flows.supplement_cases`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.dispatch.case.deadlines import deadline_for, limit_for_kind
from services.dispatch.case.models import Case
from services.dispatch.routing.service import RoutingDecision, route
from shared import topics
from shared.catalog import default_catalog
from shared.events.cases import CaseEventV1, case_event
from shared.events.complaints import ComplaintReceivedV1, PlaceRef, Reporter
from shared.outbox import add_event

OUTSIDE_DISTRICT_NOTE = "坐标不在本区范围内"


def solved_on_spot(event: ComplaintReceivedV1, decision: RoutingDecision) -> bool:
    """就地解决: a grid worker's report marked solved on the spot (intake requires its photo); an emergency the
    classifier found in it is still transferred."""
    return event.channel == "grid" and event.solved_on_spot and decision.outcome != "transfer"


def place_check(event: ComplaintReceivedV1, decision: RoutingDecision) -> tuple[RoutingDecision, bool]:
    """(decision, awaits_place). A complaint whose point lies outside the district is never dispatched inside
    it: it goes to triage with the place's note. ``awaits_place`` is True when the case goes to triage only
    for want of its place (with a street it would have been dispatched): a later supplement that places it
    routes it (:func:`services.dispatch.case.flows.supplement_cases`)."""
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


def case_row(event: ComplaintReceivedV1, decision: RoutingDecision) -> dict[str, object]:
    """The row of a new case (state ``accepted``) for ``event`` routed by ``decision``."""
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
