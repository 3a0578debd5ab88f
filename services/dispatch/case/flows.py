"""Case flows: one business action = validate (state machine) + update the row + history + event.

``transition`` is the one way a case changes state. It works in the caller's session and flushes;
the caller (request handler, consumer, timer job) owns the transaction, so the row, the history
entry and the outbox event commit together or not at all.

This is the core of dispatch: it imports nothing from ``sla/``, ``duplicate/`` or ``handoff/``. What follows
from a transition there (timers, 并单 followers, emergency hand-offs) reacts to it through the listeners of
:mod:`services.dispatch.case.hooks`. Opening a case from a complaint, which also involves 并单 and the timers,
is orchestrated above this module, in :mod:`services.dispatch.opening`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from services.dispatch.case import history, hooks
from services.dispatch.case import state as sm
from services.dispatch.case.deadlines import deadline_for, limit_for_case
from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.case.service import stage_case_event
from services.dispatch.routing.service import RoutingDecision
from shared.calendar import SHANGHAI, default_calendar
from shared.catalog import default_catalog
from shared.errors import Conflict
from shared.events.complaints import ComplaintSupplementedV1, PlaceRef

WHISTLE_REPORT_MINUTES = 30


class IllegalTransitionError(Conflict):
    """HTTP 409 ``{"error": "illegal_transition", "state": ..., "allowed_actions": [...]}``."""

    code = "illegal_transition"

    def __init__(self, exc: sm.IllegalTransition) -> None:
        super().__init__(exc.why, state=exc.state, action=exc.action, allowed_actions=exc.allowed)


class ConcurrentUpdate(Conflict):
    code = "concurrent_update"


def snapshot(case: Case) -> sm.Snapshot:
    pending = frozenset(code for code, at in (case.whistle or {}).get("departments", {}).items() if at is None)
    return sm.Snapshot(
        state=case.state,
        channel=case.channel,
        lead=case.lead,
        reopen_count=case.reopen_count or 0,
        extension_status=case.extension_status,
        returned_from=case.returned_from,
        suspended_from=case.suspended_from,
        return_deadline_at=case.return_deadline_at,
        whistle_pending=pending,
        merged_into=case.merged_into,
    )


def allowed_actions(case: Case, now: datetime | None = None) -> list[str]:
    return sm.allowed_actions(snapshot(case), now or datetime.now(UTC))


# ------------------------------------------------------------------------------------------ deadlines


def set_dispatch_clock(case: Case, now: datetime, *, reset_deadline: bool) -> None:
    """Sign deadline (working hours), return window (working days) and, if asked, the handling deadline."""
    cal = default_calendar()
    matter = default_catalog().get_matter(case.matter_code) if case.matter_code else None
    sign_hours = matter.sign_hours if matter else 2.0
    window = matter.return_window_days if matter else 2.0
    case.dispatched_at = now
    case.sign_deadline_at = cal.add_working_hours(now, sign_hours)
    case.return_deadline_at = cal.working_deadline(now, max(1, round(window)))
    if reset_deadline or case.deadline_at is None:
        limit = limit_for_case(case)
        case.deadline_at, case.deadline_provisional = deadline_for(case.received_at, limit)
        case.deadline_limit = str(limit)


def _push_deadline(case: Case, working_days: int) -> None:
    if case.deadline_at is None or working_days <= 0:
        return
    cal = default_calendar()
    case.deadline_at = cal.working_deadline(case.deadline_at, working_days)
    case.deadline_provisional = case.deadline_provisional or cal.deadline_is_provisional(
        case.received_at, case.deadline_at
    )


# ------------------------------------------------------------------------------------------ transition


async def transition(
    session: AsyncSession,
    case: Case,
    action: str,
    *,
    actor: str = "system",
    reason: str | None = None,
    now: datetime | None = None,
    public: bool | None = None,
    defer: bool = False,
    **details: Any,
) -> CaseHistory:
    """Apply one action to ``case``: state machine check, row update, history entry, outbox event, then the
    installed :mod:`~services.dispatch.case.hooks` listeners (SLA timers, 并单 followers, hand-off) in order.

    ``defer=True`` (only for cases created in the same transaction, or locked by the caller's batch, which
    nobody else can hold) leaves the flush and the SLA timers to the caller, so a batch of new cases is written
    in a few statements; the listeners are told the transition is deferred (they only stage rows then).

    ``action`` is a command (``sign``, ``approve_extension`` …) or its recorded name (``signed`` …).
    ``details`` are action parameters, recorded in history and in the event's ``details``:
    dispatch/reassign/arbitrate: ``lead`` (required), ``co_handlers``, ``matter_code``;
    request_extension: ``days``; approve_extension: ``days`` (default: as requested);
    survey: ``result`` (满意/基本满意/不满意/未评价); verify: ``passed``; merge: ``master_id``;
    whistle: ``departments``; report: ``department``; reply: ``text``, ``attachments``.
    Raises :class:`IllegalTransitionError` (409) or :class:`ConcurrentUpdate` (409), and
    :class:`~services.dispatch.case.hooks.TransitionListenersNotInstalled` before touching the case when
    dispatch was started without :func:`services.dispatch.wiring.install_listeners`. Flushes.
    """
    hooks.transition_listeners()  # fail before touching the case if nobody would keep its timers
    now = now or datetime.now(UTC)
    command = sm.command_of(action)
    case_id = case.id
    before = snapshot(case)
    try:
        after = sm.apply(before, command, now=now, reason=reason, **details)
    except sm.IllegalTransition as exc:
        raise IllegalTransitionError(exc) from None
    recorded = sm.ACTIONS[command]
    details = dict(details)
    _apply_effects(case, command, before, after, now, details)
    case.state = after.state
    case.returned_from = after.returned_from
    case.suspended_from = after.suspended_from
    case.extension_status = after.extension_status
    case.reopen_count = after.reopen_count
    case.merged_into = after.merged_into
    case.updated_at = now
    entry = append_history(
        session,
        case,
        recorded,
        from_state=before.state,
        actor=actor,
        reason=reason,
        details=details,
        public=recorded in history.PUBLIC_ACTIONS if public is None else public,
        at=now,
    )
    stage_case_event(
        session, case, recorded, from_state=before.state, at=now, actor=actor, reason=reason, details=entry.details
    )
    change = hooks.Transition(
        command=command,
        action=recorded,
        from_state=before.state,
        actor=actor,
        reason=reason,
        now=now,
        details=details,
        deferred=defer,
    )
    if not defer:
        try:
            await session.flush()
        except StaleDataError:
            raise ConcurrentUpdate(f"case {case_id} was changed by someone else; reload and retry") from None
    # the SLA clock, 并单 followers and the emergency hand-off follow every transition (same transaction)
    await hooks.notify(session, case, change)
    return entry


def _apply_effects(
    case: Case, command: str, before: sm.Snapshot, after: sm.Snapshot, now: datetime, details: dict[str, Any]
) -> None:
    catalog = default_catalog()
    if command in ("dispatch", "reassign", "arbitrate"):
        if details.get("matter_code") and catalog.get_matter(str(details["matter_code"])):
            case.matter_code = str(details["matter_code"])
            case.category = case.matter_code[:2]
        case.lead = str(details["lead"])
        if "co_handlers" in details:
            case.co_handlers = [c for c in details["co_handlers"] or [] if c != case.lead]
        else:
            case.co_handlers = [c for c in case.co_handlers or [] if c != case.lead]
        if command == "arbitrate" and "responsibility" not in details:
            details["responsibility"] = responsibility_quotes(case, [case.lead])
        set_dispatch_clock(case, now, reset_deadline=command == "dispatch")
        details.setdefault("deadline_at", case.deadline_at)
        details.setdefault("sign_deadline_at", case.sign_deadline_at)
    elif command == "request_extension":
        case.extension_days = int(details.get("days") or sm.MAX_EXTENSION_DAYS)
        details["days"] = case.extension_days
    elif command == "approve_extension":
        days = min(int(details.get("days") or case.extension_days or 0), sm.MAX_EXTENSION_DAYS)
        case.extension_days = days
        _push_deadline(case, days)
        details.update(days=days, deadline_at=case.deadline_at)
    elif command == "suspend":
        case.suspended_at = now
    elif command == "resume":
        if case.suspended_at is not None:
            stopped = default_calendar().working_days_between(
                case.suspended_at.astimezone(SHANGHAI).date(), now.astimezone(SHANGHAI).date()
            )
            _push_deadline(case, stopped)
            details.update(suspended_working_days=max(stopped, 0), deadline_at=case.deadline_at)
        case.suspended_at = None
    elif command == "survey":
        case.survey_result = str(details.get("result"))
    elif command == "reopen" or (command == "verify" and after.state == "signed"):
        case.deadline_at, case.deadline_provisional = deadline_for(now, limit_for_case(case))
        details.setdefault("deadline_at", case.deadline_at)
    elif command == "whistle":
        departments = [str(d) for d in details.get("departments") or []]
        due = now + timedelta(minutes=WHISTLE_REPORT_MINUTES)
        whistle = dict(case.whistle or {})
        pending = dict(whistle.get("departments", {}))
        for code in departments:
            pending.setdefault(code, None)
        whistle.update(departments=pending, due_at=due.isoformat(), whistled_at=now.isoformat())
        case.whistle = whistle
        case.co_handlers = [
            *case.co_handlers,
            *[d for d in departments if d not in case.co_handlers and d != case.lead],
        ]
        details["report_due_at"] = due
    elif command == "report":
        dept = str(details.get("department") or "")
        whistle = dict(case.whistle or {})
        pending = dict(whistle.get("departments", {}))
        if dept in pending:
            pending[dept] = now.isoformat()
            report_due = whistle.get("due_at")
            details["on_time"] = report_due is None or now <= datetime.fromisoformat(str(report_due))
        whistle["departments"] = pending
        case.whistle = whistle
    elif command in ("close", "transfer"):
        case.closed_at = now
    elif command == "answer":
        details.setdefault("answered_at", now)


def responsibility_quotes(case: Case, departments: list[str]) -> list[dict[str, str]]:
    """职责裁定: the catalog's responsibility entries for the case's matter and the departments' matters
    of the same category, quoted so the ruling records what it rests on."""
    catalog = default_catalog()
    quotes: list[dict[str, str]] = []
    seen: set[str] = set()
    matter = catalog.get_matter(case.matter_code) if case.matter_code else None
    if matter is not None:
        quotes.append({"matter": matter.code, "name": matter.name, "responsibility": matter.responsibility})
        seen.add(matter.code)
    for dept in departments:
        if catalog.get_department(dept) is None:
            continue
        for m in catalog.matters_for_department(dept):
            if m.code in seen or (case.category and m.category != case.category):
                continue
            quotes.append({"matter": m.code, "name": m.name, "responsibility": m.responsibility})
            seen.add(m.code)
            if len(quotes) >= 6:
                return quotes
    return quotes


def append_history(
    session: AsyncSession,
    case: Case,
    action: str,
    *,
    from_state: str | None,
    actor: str,
    reason: str | None,
    details: dict[str, Any],
    public: bool,
    at: datetime,
) -> CaseHistory:
    """Append one keyed, hash-chained entry and move the case's chain head (the caller flushes)."""
    seq = (case.history_seq or 0) + 1
    prev = case.history_hash or history.GENESIS
    clean = history.normalise(details)
    body = history.entry_body(
        case_id=case.id,
        seq=seq,
        action=action,
        from_state=from_state,
        to_state=case.state,
        actor=actor,
        reason=reason,
        details=clean,
        public=public,
        at=at,
    )
    keyring = history.default_keyring()
    entry = CaseHistory(
        case_id=case.id,
        seq=seq,
        action=action,
        from_state=from_state,
        to_state=case.state,
        actor=actor,
        reason=reason,
        details=clean,
        public=public,
        at=at,
        prev_hash=prev,
        hash=keyring.mac(prev, body),
        key_id=keyring.current_id,
    )
    session.add(entry)
    case.history_seq = seq
    case.history_hash = entry.hash
    return entry


async def route_case(
    session: AsyncSession,
    case: Case,
    decision: RoutingDecision,
    *,
    now: datetime,
    defer: bool = False,
    extra: dict[str, Any] | None = None,
) -> None:
    """Apply the routing decision to a just-created case (actor ``routing``); ``extra`` details are recorded
    with it (e.g. ``awaits_place`` on a triage that only lacks the place)."""
    details: dict[str, Any] = {"confidence": decision.confidence, **(extra or {})}
    if decision.outcome == "transfer":
        await transition(
            session,
            case,
            "transfer",
            actor="routing",
            reason=decision.why,
            now=now,
            defer=defer,
            service=decision.emergency_service,
            **details,
        )
    elif decision.outcome == "answer":
        await transition(
            session,
            case,
            "answer",
            actor="routing",
            reason=decision.why,
            now=now,
            defer=defer,
            text=decision.knowledge_answer,
            **details,
        )
        await transition(session, case, "close", actor="routing", reason="直接办结", now=now, defer=defer)
    elif decision.outcome == "dispatch":
        assert decision.lead is not None
        await transition(
            session,
            case,
            "dispatch",
            actor="routing",
            reason=decision.why,
            now=now,
            defer=defer,
            lead=decision.lead,
            co_handlers=decision.co_handlers,
            matter_code=decision.matter_code,
            **details,
        )
    else:
        await transition(session, case, "triage", actor="routing", reason=decision.why, now=now, defer=defer, **details)


async def apply_survey(
    session: AsyncSession,
    case: Case,
    result: str,
    *,
    actor: str = "survey",
    comment: str | None = None,
    solved: bool | None = None,
    now: datetime | None = None,
) -> list[CaseHistory]:
    """回访 → 评价 → 结案: record the result, then close (满意/基本满意/未评价), reopen (不满意, first time)
    or supervise and close (不满意 again: 督办 to the department head).

    ``solved`` is the citizen's own answer to "您反映的问题解决了吗？" when the survey asked it; it is kept in
    the ``surveyed`` entry's details (``details["solved"]``) for 解决率 and does not change the flow."""
    now = now or datetime.now(UTC)
    extra: dict[str, Any] = {"solved": solved} if solved is not None else {}
    entries = [await transition(session, case, "survey", actor=actor, reason=comment, now=now, result=result, **extra)]
    if result in sm.SATISFIED_RESULTS:
        entries.append(await transition(session, case, "close", actor=actor, now=now, result=result))
    elif case.reopen_count < sm.MAX_REOPENS:
        reopen_reason = "市民对办理结果不满意，重新办理"
        entries.append(await transition(session, case, "reopen", actor=actor, reason=reopen_reason, now=now))
    else:
        entries.append(
            await transition(
                session,
                case,
                "supervise",
                actor=actor,
                now=now,
                reason="重办后市民仍不满意",
            )
        )
        entries.append(await transition(session, case, "close", actor=actor, now=now, result=result))
    return entries


# ------------------------------------------------------------------------------------------ supplements


async def supplement_cases(session: AsyncSession, events: Sequence[ComplaintSupplementedV1]) -> int:
    """补充: a later location, address, photo or text for a complaint reaches its case. A place fills in a case
    that had none (e.g. a WeChat user sending a location after the text; a point outside the district is
    replaced by one inside); the entry is recorded in history. A case waiting in triage only for its place
    (``awaits_place``) is then dispatched at once (actor ``routing``)."""
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
        append_history(
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
    await transition(
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
