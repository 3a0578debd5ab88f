"""A complaint opens a case: routing, 并单 and the first SLA timers, for a batch of complaints at once.

This is orchestration above the three folders it combines, and the only place that combines them this way:
``case/`` (the new row, its ``created`` entry and the routing transitions, :mod:`services.dispatch.case.flows`),
``duplicate/`` (a duplicate of an open case is merged into it instead of being routed) and ``sla/`` (the batch's
timers in one INSERT). None of them imports this module; ``case/`` imports neither of the other two.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case import flows
from services.dispatch.case.models import Case
from services.dispatch.case.service import case_row, place_check, solved_on_spot, stage_case_event
from services.dispatch.duplicate.service import merge_or_suggest
from services.dispatch.routing.service import RoutingDecision, route
from services.dispatch.sla.service import schedule_cases_timers
from shared.db import table_of
from shared.events.complaints import ComplaintReceivedV1
from shared.tracing import continue_trace


async def open_cases(
    session: AsyncSession,
    events: Sequence[ComplaintReceivedV1],
    *,
    traces: dict[str, str | None] | None = None,
    now: datetime | None = None,
) -> list[Case]:
    """Create one case per complaint (a complaint seen before is ignored), record ``created`` and route it:
    transfer (emergency), answer + close (knowledge base), close as solved on the spot (a grid worker's report),
    merge into an open duplicate, dispatch, or triage. Flushes. The new cases' transitions are deferred (see
    :func:`~services.dispatch.case.flows.transition`), so their SLA timers are written here, in one INSERT for the
    batch (:func:`~services.dispatch.sla.service.schedule_cases_timers`); the hand-off of a transferred case is
    staged by its listener as usual. ``now``: when it happens (default: now; the demo history import passes
    the past)."""
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
        row = case_row(event, decision)
        if solved_on_spot(event, decision):  # 就地解决: closed at once, no handling limit, never dispatched
            on_spot[event.complaint_id] = event
            row.update(deadline_at=None, deadline_provisional=False, deadline_limit=None)
        rows.append(row)
    table = table_of(Case)
    stmt = insert(table).on_conflict_do_nothing(index_elements=["complaint_id"]).returning(table.c.id)
    created_ids = set((await session.execute(stmt, rows)).scalars()) if rows else set()
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


def _record_created(session: AsyncSession, case: Case, now: datetime, details: dict[str, Any] | None) -> None:
    """The case's public ``created`` history line and its ``created`` case event (with ``details``)."""
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


async def _open_one(
    session: AsyncSession,
    case: Case,
    decision: RoutingDecision,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    transfer = {"transfer_to": decision.emergency_service} if decision.outcome == "transfer" else None
    _record_created(session, case, now, transfer)  # notify: the receipt
    if decision.outcome not in ("transfer", "answer") and await merge_or_suggest(session, case, defer=True) is not None:
        return  # 并单: a duplicate of an open case follows that case instead of being routed
    await flows.route_case(session, case, decision, now=now, defer=True, extra=extra)
