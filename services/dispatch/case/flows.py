"""Case flows: one business action = validate (state machine) + update the row + history + event.

``transition`` is the one way a case changes state. It works in the caller's session and flushes;
the caller (request handler, consumer, timer job) owns the transaction, so the row, the history
entry and the outbox event commit together or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from services.dispatch.case import history
from services.dispatch.case import state as sm
from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.case.service import stage_case_event
from services.dispatch.routing.service import RoutingDecision
from shared.calendar import SHANGHAI, default_calendar
from shared.catalog import TimeLimit, default_catalog
from shared.errors import Conflict

WHISTLE_REPORT_MINUTES = 30
DEFAULT_LIMIT = TimeLimit(value=5)


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


def deadline_for(start: datetime, limit: TimeLimit) -> tuple[datetime, bool]:
    """Deadline of a handling limit (working days or calendar months) from ``start``; (at, provisional)."""
    cal = default_calendar()
    if limit.months is not None:
        at = cal.add_calendar_months(start, limit.months, roll_to_workday=True)
    else:
        at = cal.working_deadline(start, max(1, round(limit.value)))
    return at, cal.deadline_is_provisional(start, at)


def limit_for_kind(matter_code: str | None, kind: str) -> TimeLimit:
    """The matter's handling limit for this kind of 诉求 (5 working days when the matter is unknown)."""
    matter = default_catalog().get_matter(matter_code) if matter_code else None
    if matter is None:
        return DEFAULT_LIMIT
    try:
        return matter.limit_for(kind)
    except KeyError:
        return DEFAULT_LIMIT


def limit_for_case(case: Case) -> TimeLimit:
    return limit_for_kind(case.matter_code, case.kind)


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
    """Apply one action to ``case``: state machine check, row update, history entry, outbox event.

    ``defer=True`` (only for cases created in the same transaction, which nobody else can hold) leaves
    the flush and the SLA timers to the caller, so a batch of new cases is written in a few statements.

    ``action`` is a command (``sign``, ``approve_extension`` …) or its recorded name (``signed`` …).
    ``details`` are action parameters, recorded in history and in the event's ``details``:
    dispatch/reassign/arbitrate: ``lead`` (required), ``co_handlers``, ``matter_code``;
    request_extension: ``days``; approve_extension: ``days`` (default: as requested);
    survey: ``result`` (满意/基本满意/不满意/未评价); verify: ``passed``; merge: ``master_id``;
    whistle: ``departments``; report: ``department``; reply: ``text``, ``attachments``.
    Raises :class:`IllegalTransitionError` (409) or :class:`ConcurrentUpdate` (409). Flushes.
    """
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
    if command == "transfer":  # 紧急警情: the hand-off job hands the case to 110/119/120/122 (same transaction)
        from services.dispatch.handoff.service import stage_handoff

        stage_handoff(session, case, now=now, service=str(details.get("service") or case.lead or "110"), reason=reason)
    if defer:
        return entry
    try:
        await session.flush()
    except StaleDataError:
        raise ConcurrentUpdate(f"case {case_id} was changed by someone else; reload and retry") from None
    from services.dispatch.sla.service import on_case_transition  # the SLA clock follows every transition

    await on_case_transition(session, case, recorded, now=now)
    if command == "close" and before.state != "merged":
        await _close_followers(session, case, actor=actor, now=now)
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


async def _close_followers(session: AsyncSession, master: Case, *, actor: str, now: datetime) -> None:
    """并单: cases merged into ``master`` close with it."""
    followers = (
        await session.execute(select(Case).where(Case.merged_into == master.id, Case.state == "merged"))
    ).scalars()
    for follower in list(followers):
        await transition(
            session,
            follower,
            "close",
            actor=actor,
            reason=f"主工单{master.tracking_code}已结案",
            now=now,
            master_id=master.id,
        )


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
