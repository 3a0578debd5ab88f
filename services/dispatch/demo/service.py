"""Demo history (``linkage up --demo-history D``): cases received in the past, taken through the real flows at
their own past times, so the case events (and so analytics' day counts, measures, rankings and hot-spot
baselines) carry those times.

Each case is opened the way a complaint from intake is (:func:`open_cases` with ``now`` = its received time:
routing, 并单, 就地解决, transfer), then its steps are applied through :func:`flows.transition` at their times. An
emergency's hand-off is recorded as pushed and acknowledged a minute later (it is history: nothing is sent, no
alert is raised). A step the case no longer allows (it was merged into a duplicate, say) ends that case's script.

Only in demo mode (the route answers 404 otherwise) and only with an admin key: this is no way to rewrite a real
system's past.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.dispatch.case import flows
from services.dispatch.case.models import Case
from services.dispatch.demo.schemas import DemoCaseIn, DemoHistoryOut, DemoStepIn
from services.dispatch.handoff import service as handoffs
from services.dispatch.handoff.config import get_handoff_settings
from services.dispatch.handoff.models import Handoff
from services.dispatch.opening import open_cases
from shared.catalog import default_catalog
from shared.errors import InvalidInput
from shared.events.complaints import ComplaintReceivedV1, EmergencyFlag, GeoPoint, PlaceRef, Reporter

MAX_AGE = timedelta(days=366)
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # the tracking code alphabet intake uses
HANDLER_ACTIONS = frozenset({"sign", "progress", "return", "request_extension", "reply"})


def _tracking_code(at: datetime) -> str:
    return at.strftime("%y%m%d") + "".join(secrets.choice(_ALPHABET) for _ in range(13))


def check_times(item: DemoCaseIn, index: int, now: datetime) -> None:
    """Past, in order, not older than a year (422 naming the field otherwise)."""
    received = item.complaint.received_at
    if received > now or received < now - MAX_AGE:
        raise InvalidInput("received_at must lie within the past year", field=f"cases.{index}.complaint.received_at")
    last = received
    for n, step in enumerate(item.steps):
        if step.at < last or step.at > now:
            raise InvalidInput(
                "steps must be in order, after received_at and not in the future",
                field=f"cases.{index}.steps.{n}.at",
            )
        last = step.at


def complaint_event(item: DemoCaseIn) -> ComplaintReceivedV1:
    c = item.complaint
    complaint_id = str(ULID())
    at = c.received_at.astimezone(UTC)
    place = PlaceRef(street_code=c.street_code, community_code=c.community_code, grid_code=c.grid_code)
    return ComplaintReceivedV1(
        complaint_id=complaint_id,
        tracking_code=_tracking_code(at),
        channel=c.channel,
        channel_key=f"demo-history:{complaint_id}",
        kind=c.kind,
        text=c.text,
        address=c.address,
        address_status="resolved" if c.address and c.street_code else "none",
        location=GeoPoint(lon=c.lon, lat=c.lat, source="demo") if c.lon is not None and c.lat is not None else None,
        place=place,
        reporter=Reporter(user_id="demo-history"),
        matter_code=c.matter_code,
        emergency=EmergencyFlag(service=c.emergency_service, reason="演示历史") if c.emergency_service else None,
        solved_on_spot=c.solved_on_spot,
        operator_id="demo-history",
        received_at=at,
    )


def _actor(step: DemoStepIn, case: Case) -> str:
    if step.action == "survey":
        return "survey"
    if step.action in HANDLER_ACTIONS and case.lead:
        return f"handler:{case.lead}:demo"
    return f"dispatcher:{default_catalog().center().code}:demo"


def _lead_for(case: Case, lead: str | None) -> tuple[str, list[str]] | None:
    """The department a dispatch goes to: the one given, else the matter's handlers for the case's street."""
    catalog = default_catalog()
    if lead and catalog.get_department(lead) is not None:
        return lead, []
    matter = catalog.get_matter(case.matter_code) if case.matter_code else None
    if matter is None or matter.is_emergency:
        return None
    try:
        main, co = catalog.resolve_handlers(matter, case.street_code)
    except (KeyError, ValueError):
        return None
    return main.code, [d.code for d in co]


async def _apply(session: AsyncSession, case: Case, step: DemoStepIn) -> bool:
    """Apply one step at its time; False when the case does not allow it (its script ends)."""
    actor, at = _actor(step, case), step.at.astimezone(UTC)
    params: dict[str, Any] = {}
    if step.action in ("dispatch", "reassign"):
        target = _lead_for(case, step.lead)
        if target is None:
            return False
        params.update(lead=target[0], co_handlers=target[1])
        if case.matter_code:
            params["matter_code"] = case.matter_code
    elif step.action == "reply":
        params["text"] = step.text or "已到现场处理完毕，问题已解决。"
    elif step.action == "progress":
        params["note"] = step.text or "已安排人员到现场核实。"
    elif step.action == "request_extension":
        params["days"] = step.days or 3
    elif step.action == "verify":
        params["passed"] = True if step.passed is None else step.passed
    reason = step.reason
    if step.action == "return" and not reason:
        reason = "该事项不属于本单位职责范围"
    try:
        if step.action == "survey":
            await flows.apply_survey(session, case, step.result or "满意", actor=actor, now=at)
        else:
            await flows.transition(session, case, step.action, actor=actor, reason=reason, now=at, **params)
    except flows.IllegalTransitionError:
        return False
    return True


async def _acknowledge_past_handoff(session: AsyncSession, case: Case, rng: random.Random) -> None:
    """History: the emergency was pushed and acknowledged within a minute or two (nothing is sent now)."""
    handoff = (await session.execute(select(Handoff).where(Handoff.case_id == case.id))).scalar_one_or_none()
    if handoff is None or handoff.acknowledged_at is not None:
        return
    handoff.attempts = 1
    sent_at = handoff.transferred_at + timedelta(seconds=rng.randint(20, 110))
    center = handoffs.center_name(handoff.service)
    outcome = handoffs.SendOutcome(True, receipt_id=f"DEMO{str(ULID())[-10:]}", acknowledged=True, handled_by=center)
    await handoffs.record_attempt(
        session, handoff.id, 1, outcome, adapter="demo", settings=get_handoff_settings(), now=sent_at
    )


async def import_history(
    session: AsyncSession, items: list[DemoCaseIn], *, now: datetime | None = None
) -> DemoHistoryOut:
    """Open and play every case (the caller commits). Raises InvalidInput (422) for times out of place."""
    now = now or datetime.now(UTC)
    for i, item in enumerate(items):
        check_times(item, i, now)
    rng = random.Random()  # noqa: S311 - demo data
    created = steps = stopped = 0
    states: Counter[str] = Counter()
    for item in sorted(items, key=lambda it: it.complaint.received_at):
        event = complaint_event(item)
        opened = await open_cases(session, [event], now=event.received_at)
        if not opened:
            continue
        case = opened[0]
        created += 1
        if case.state == "transferred":
            await _acknowledge_past_handoff(session, case, rng)
        for step in item.steps:
            if not await _apply(session, case, step):
                stopped += 1
                break
            steps += 1
        states[case.state] += 1
    await session.flush()
    return DemoHistoryOut(cases=created, steps=steps, stopped=stopped, states=dict(states))
