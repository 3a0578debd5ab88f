"""SLA timers: scheduling (called by the case flows) and the scanner that fires them exactly once.

Scheduling — functions take a session and flush nothing themselves; the caller's transaction
(the same one that changes the case) owns them:

- :func:`schedule_case_timers` after 派单 / 改派 / 延期批准 / 恢复 (dispatch, reassign, approve_extension,
  resume, reopen): replaces the case's unfired ``yellow``/``red``/``publicize`` timers from
  ``Case.received_at`` and ``Case.deadline_at``, and its ``sign_due`` when the case awaits 签收;
- :func:`schedule_survey_timer` after 办结 (reply): 未评价 after 3 working days;
- :func:`schedule_whistle_timer` after 吹哨 (whistle): the departments must report in 30 minutes;
- :func:`cancel_case_timers` on sign (``kinds=["sign_due"]``), suspend / reply (the clock kinds),
  merge / close / transfer (all kinds).

Firing — :func:`fire_due_timers` claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED``, locks
their cases with ``SKIP LOCKED`` too (a case busy in a request is simply retried on the next scan,
so the scanner never waits on a lock a flow holds), applies the escalation through the core's
``transition`` and sets ``fired_at`` in the same short transaction as the staged outbox event.
Any number of dispatch replicas may scan at once; a crash rolls the batch back and another scan
fires it. A timer that no longer applies (the case moved on, or its deadline moved) is marked
``skipped`` — the scanner reschedules a moved deadline itself, so an extension approved without
a call to :func:`schedule_case_timers` still gets correct timers.

Escalation ladder: ``yellow`` → ``urge`` (催办, to the handler); ``red`` → ``supervise`` (督办, to the
department head and the street center); ``publicize`` → ``publicize`` (通报, public red list);
``sign_due`` → ``warn`` (not signed in time); ``whistle_due`` → ``urge`` the departments that have
not reported; ``survey_due`` → ``survey`` as 未评价, then ``close``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.case.models import Case
from services.dispatch.sla.models import CLOCK_KINDS, TIMER_KINDS, CaseTimer
from services.dispatch.sla.timers import (
    SIGN_HOURS,
    URGENT_SIGN_HOURS,
    TimerPlan,
    plan_clock_timers,
    sign_due_at,
    survey_due_at,
    whistle_due_at,
)
from shared.logging import get_logger
from shared.metrics import mark_success

if TYPE_CHECKING:
    from shared.app import ServiceRuntime

log = get_logger(__name__)

TIMERS_FIRED = Counter("linkage_sla_timers_fired_total", "SLA timers handled by the scanner", ["kind", "outcome"])
SCAN_SECONDS = Histogram("linkage_sla_scan_seconds", "Duration of one SLA scanner batch")

#: States in which the handling clock runs (yellow/red/publicize apply).
CLOCK_STATES = frozenset({"triage", "dispatched", "signed", "returned"})
#: States in which a case still awaits 签收.
SIGN_STATES = frozenset({"dispatched"})
#: States in which a survey is awaited.
SURVEY_STATES = frozenset({"replied", "verified"})
MAX_ATTEMPTS = 5
RETRY_AFTER = dt.timedelta(seconds=30)
SYSTEM_ACTOR = "system:sla"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sign_hours(case: Case) -> float:
    """The matter's sign-for limit (catalog ``sign_hours``; urgent matters 0.5 h)."""
    if case.matter_code:
        try:
            from shared.catalog import default_catalog

            matter = default_catalog().get_matter(case.matter_code)
        except Exception:  # noqa: BLE001 - a broken catalog must not stop the clock
            matter = None
        if matter is not None:
            return URGENT_SIGN_HOURS if matter.urgency != "normal" else float(matter.sign_hours)
    return SIGN_HOURS


def plan_for_case(case: Case, *, now: dt.datetime | None = None, sign: bool | None = None) -> list[TimerPlan]:
    """The clock timers a case should have now (``sign`` default: the case awaits 签收)."""
    if case.deadline_at is None:
        return []
    if sign is None:
        sign = case.state in SIGN_STATES
    plans = plan_clock_timers(case.received_at, case.deadline_at)
    if sign:
        due = case.sign_deadline_at or sign_due_at(case.dispatched_at or now or _now(), _sign_hours(case))
        plans.insert(0, TimerPlan("sign_due", due))
    return plans


async def _replace(
    session: AsyncSession, case_id: str, kinds: Sequence[str], plans: Iterable[TimerPlan], keep: Sequence[int] = ()
) -> None:
    await cancel_case_timers(session, case_id, kinds, keep=keep)
    rows = [{"case_id": case_id, "kind": p.kind, "due_at": p.due_at} for p in plans]
    if rows:
        await session.execute(insert(CaseTimer), rows)


async def schedule_case_timers(
    session: AsyncSession, case: Case, *, now: dt.datetime | None = None, sign: bool | None = None
) -> list[TimerPlan]:
    """Replace the case's unfired handling-clock timers (yellow, red, publicize and, when the case
    awaits 签收, sign_due counted from ``now``) from its ``received_at`` / ``deadline_at``.

    Call it in the transaction that dispatches, reassigns, approves an extension, resumes or
    reopens the case, after ``deadline_at`` has its new value. Idempotent."""
    plans = plan_for_case(case, now=now, sign=sign)
    kinds = (*CLOCK_KINDS, "sign_due") if sign or (sign is None and case.state in SIGN_STATES) else CLOCK_KINDS
    await _replace(session, case.id, kinds, plans)
    return plans


async def schedule_cases_timers(session: AsyncSession, cases: Sequence[Case], *, now: dt.datetime | None = None) -> int:
    """Bulk form for freshly created cases (one INSERT): clock timers, plus sign_due when dispatched."""
    now = now or _now()
    rows = [
        {"case_id": c.id, "kind": p.kind, "due_at": p.due_at}
        for c in cases
        if c.state in CLOCK_STATES
        for p in plan_for_case(c, now=now)
    ]
    if rows:
        await session.execute(insert(CaseTimer), rows)
    return len(rows)


async def schedule_survey_timer(
    session: AsyncSession, case: Case, *, replied_at: dt.datetime | None = None
) -> dt.datetime:
    """After 办结: no survey answer within 3 working days → 未评价 and close. Also stops the
    handling clock (the reply is in). Call it in the transaction that records the reply."""
    due = survey_due_at(replied_at or _now())
    await cancel_case_timers(session, case.id, (*CLOCK_KINDS, "sign_due"))
    await _replace(session, case.id, ("survey_due",), [TimerPlan("survey_due", due)])
    return due


async def schedule_whistle_timer(
    session: AsyncSession, case: Case, *, whistled_at: dt.datetime | None = None, minutes: int = 30
) -> dt.datetime:
    """After 吹哨: the convened departments must report within ``minutes``."""
    due = whistle_due_at(whistled_at or _now(), minutes)
    await _replace(session, case.id, ("whistle_due",), [TimerPlan("whistle_due", due)])
    return due


async def cancel_case_timers(
    session: AsyncSession, case_id: str, kinds: Iterable[str] | None = None, *, keep: Sequence[int] = ()
) -> int:
    """Drop the case's unfired timers (all, or only ``kinds``). Fired rows stay as the record.

    Rows a scanner is firing right now are left alone (``SKIP LOCKED``, so this never waits on
    a scanner); the scanner re-checks the case under its lock and skips what no longer applies."""
    ids = select(CaseTimer.id).where(CaseTimer.case_id == case_id, CaseTimer.fired_at.is_(None))
    if kinds is not None:
        kind_list = list(kinds)
        unknown = set(kind_list) - set(TIMER_KINDS)
        if unknown:
            raise ValueError(f"unknown timer kinds: {sorted(unknown)}")
        ids = ids.where(CaseTimer.kind.in_(kind_list))
    if keep:
        ids = ids.where(CaseTimer.id.notin_(list(keep)))
    result = await session.execute(
        delete(CaseTimer).where(CaseTimer.id.in_(ids.with_for_update(skip_locked=True).scalar_subquery()))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


#: Recorded actions after which the handling clock is (re)planned from the case's new deadline.
_RESCHEDULE = frozenset({"dispatched", "reassigned", "arbitrated", "reopened", "resumed", "extension_approved"})
_CANCEL_ALL = frozenset({"merged", "closed", "transferred", "answered"})


async def on_case_transition(session: AsyncSession, case: Case, action: str, *, now: dt.datetime | None = None) -> None:
    """The one call the case flows make after every transition (same session, after the row update).

    ``action`` is the recorded action (``dispatched`` …) or the command (``dispatch`` …). Maps it to
    the timer operations: reschedule the clock on dispatch/reassign/arbitrate/reopen/resume/extension
    approval (and on a failed 核查, which reopens), drop ``sign_due`` on sign, stop the clock on
    suspend, start the survey timer on reply, the report timer on whistle, drop everything on
    merge/close/transfer/answer. Self-loops (urge, supervise …) change nothing."""
    from services.dispatch.case.state import ACTIONS

    recorded = ACTIONS.get(action, action)
    now = now or _now()
    if recorded in _RESCHEDULE or (recorded == "verified" and case.state == "signed"):
        await schedule_case_timers(session, case, now=now)
    elif recorded == "signed":
        await cancel_case_timers(session, case.id, ["sign_due"])
    elif recorded == "suspended":
        await cancel_case_timers(session, case.id, [*CLOCK_KINDS, "sign_due"])
    elif recorded == "replied":
        await schedule_survey_timer(session, case, replied_at=now)
    elif recorded == "whistled":  # flows record the report deadline in case.whistle["due_at"]
        due = (case.whistle or {}).get("due_at")
        if due:
            plan = TimerPlan("whistle_due", dt.datetime.fromisoformat(due))
            await _replace(session, case.id, ["whistle_due"], [plan])
        else:
            await schedule_whistle_timer(session, case, whistled_at=now)
    elif recorded == "reported":
        departments = (case.whistle or {}).get("departments", {})
        if all(at is not None for at in departments.values()):
            await cancel_case_timers(session, case.id, ["whistle_due"])
    elif recorded in _CANCEL_ALL:
        await cancel_case_timers(session, case.id)


async def timers_for(session: AsyncSession, case_id: str) -> list[CaseTimer]:
    stmt = select(CaseTimer).where(CaseTimer.case_id == case_id).order_by(CaseTimer.due_at, CaseTimer.id)
    return list((await session.execute(stmt)).scalars())


# ---------------------------------------------------------------------------------------- firing


async def _transition(session: AsyncSession, case: Case, command: str, *, reason: str, **details: Any) -> None:
    from services.dispatch.case.flows import transition

    await transition(session, case, command, actor=SYSTEM_ACTOR, reason=reason, **details)


def _is_illegal(exc: Exception) -> bool:
    """The case no longer allows the timer's action (it moved on): skip, do not retry."""
    from services.dispatch.case.flows import IllegalTransitionError
    from services.dispatch.case.state import IllegalTransition

    return isinstance(exc, IllegalTransitionError | IllegalTransition)


async def _apply_timer(
    session: AsyncSession, timer: CaseTimer, case: Case | None, now: dt.datetime, claimed: Sequence[int]
) -> str:
    """Do what ``timer`` means for ``case`` now; return the outcome (fired | skipped)."""
    if case is None:
        return "skipped"
    kind = timer.kind
    details: dict[str, Any] = {"timer": kind, "due_at": timer.due_at.isoformat()}
    if kind in CLOCK_KINDS or kind == "sign_due":
        if kind == "sign_due" and case.state not in SIGN_STATES:
            return "skipped"
        if case.state not in CLOCK_STATES:
            return "skipped"
        expected = {p.kind: p.due_at for p in plan_for_case(case, sign=False)}
        if kind in expected and abs((expected[kind] - timer.due_at).total_seconds()) > 1:
            # the deadline moved (extension, reopen) without a reschedule: heal and skip this one
            # (the rows this batch claimed are left for the batch to mark)
            await _replace(session, case.id, CLOCK_KINDS, plan_for_case(case, sign=False), keep=claimed)
            return "skipped"
        if kind == "sign_due":
            await _transition(session, case, "warn", reason="超时未签收 (sign-for limit passed)", **details)
        elif kind == "yellow":
            await _transition(
                session,
                case,
                "urge",
                reason="预警催办: 80% of the time limit used",
                level="yellow",
                to=[case.lead],
                **details,
            )
        elif kind == "red":
            await _transition(
                session,
                case,
                "supervise",
                reason="超期督办: the time limit has passed",
                level="red",
                to=[f"{case.lead}:head", f"{case.street_code or 'center'}:center"],
                **details,
            )
        else:
            await _transition(
                session,
                case,
                "publicize",
                reason="超期通报: still open 5 working days after the limit",
                level="publicize",
                **details,
            )
        return "fired"
    if kind == "survey_due":
        if case.state not in SURVEY_STATES:
            return "skipped"
        from services.dispatch.case.flows import apply_survey

        # 回访超时未评价: no answer in 3 working days
        await apply_survey(session, case, "未评价", actor=SYSTEM_ACTOR, comment="回访超时未评价", now=now)
        await cancel_case_timers(session, case.id, keep=claimed)
        return "fired"
    if kind == "whistle_due":
        departments = (case.whistle or {}).get("departments", {})
        pending = sorted(code for code, reported_at in departments.items() if reported_at is None)
        if not pending or case.state not in CLOCK_STATES:
            return "skipped"
        await _transition(
            session,
            case,
            "urge",
            reason="吹哨报到超时 (not reported within 30 minutes)",
            level="whistle",
            to=pending,
            **details,
        )
        return "fired"
    return "skipped"


_CLAIM = text(
    "SELECT id FROM case_timers WHERE fired_at IS NULL AND due_at <= :now "
    "ORDER BY due_at, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)


async def fire_due_timers(
    sessionmaker: async_sessionmaker[AsyncSession], *, limit: int = 100, now: dt.datetime | None = None
) -> dict[str, int]:
    """Fire up to ``limit`` due timers in one short transaction; return counts by outcome
    (``fired``, ``skipped``, ``failed``, ``retry``, ``busy`` = case locked elsewhere, left for later)."""
    counts = {"fired": 0, "skipped": 0, "failed": 0, "retry": 0, "busy": 0}
    with SCAN_SECONDS.time():
        async with sessionmaker() as session, session.begin():
            now = now or _now()
            ids = [row[0] for row in await session.execute(_CLAIM, {"now": now, "limit": limit})]
            if not ids:
                return counts
            timers = list(
                (
                    await session.execute(select(CaseTimer).where(CaseTimer.id.in_(ids)).order_by(CaseTimer.due_at))
                ).scalars()
            )
            case_ids = sorted({t.case_id for t in timers})
            locked = {
                c.id: c
                for c in (
                    await session.execute(select(Case).where(Case.id.in_(case_ids)).with_for_update(skip_locked=True))
                ).scalars()
            }
            existing = set(locked) | set(
                (await session.execute(select(Case.id).where(Case.id.in_(set(case_ids) - set(locked))))).scalars()
            )
            for timer in timers:
                if timer.case_id in existing and timer.case_id not in locked:
                    counts["busy"] += 1  # a request holds the case: next scan
                    continue
                case = locked.get(timer.case_id)
                try:
                    async with session.begin_nested():
                        # marked first: the transition it triggers reschedules the case's timers and
                        # must not cancel the one being fired (cancellation drops only unfired rows)
                        timer.fired_at, timer.outcome = now, "firing"
                        await session.flush()
                        outcome = await _apply_timer(session, timer, case, now, ids)
                        timer.outcome = outcome
                        await session.flush()
                except Exception as exc:  # noqa: BLE001 - one bad timer must not block the others
                    if _is_illegal(exc):
                        timer.fired_at, timer.outcome = now, "skipped"
                        outcome = "skipped"
                    else:
                        timer.attempts = (timer.attempts or 0) + 1
                        timer.last_error = repr(exc)[:500]
                        if timer.attempts >= MAX_ATTEMPTS:
                            timer.fired_at, timer.outcome = now, "failed"
                            outcome = "failed"
                            log.error(
                                "sla timer failed for good",
                                timer=timer.id,
                                kind=timer.kind,
                                case_id=timer.case_id,
                                error=repr(exc),
                            )
                        else:
                            timer.due_at = now + RETRY_AFTER * timer.attempts
                            outcome = "retry"
                            log.warning(
                                "sla timer failed, will retry",
                                timer=timer.id,
                                kind=timer.kind,
                                case_id=timer.case_id,
                                error=repr(exc),
                            )
                    await session.flush()
                counts[outcome] += 1
                TIMERS_FIRED.labels(timer.kind, outcome).inc()
    return counts


async def pending_count(session: AsyncSession) -> int:
    return int(
        (
            await session.execute(select(func.count()).select_from(CaseTimer).where(CaseTimer.fired_at.is_(None)))
        ).scalar_one()
    )


async def reset_timer(session: AsyncSession, timer_id: int) -> None:
    """Admin: make a fired timer fire again (e.g. after fixing a failure)."""
    await session.execute(
        update(CaseTimer).where(CaseTimer.id == timer_id).values(fired_at=None, outcome=None, attempts=0)
    )


async def run_scanner(runtime: ServiceRuntime) -> None:
    """Background job of the dispatch service: scan every ``sla_scan_interval_s``; drain a backlog
    without sleeping. Errors (database restarts) are logged and the loop goes on."""
    interval = float(getattr(runtime.settings, "sla_scan_interval_s", 1.0))
    batch = int(getattr(runtime.settings, "sla_scan_batch_size", 100))
    log.info("sla scanner started", interval_s=interval, batch=batch)
    while True:
        try:
            counts = await fire_due_timers(runtime.sessionmaker, limit=batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.warning("sla scan failed; retrying", error=repr(exc))
            await asyncio.sleep(interval)
            continue
        mark_success(runtime.name, "run_scanner")
        handled = counts["fired"] + counts["skipped"] + counts["failed"] + counts["retry"]
        if handled < batch:
            await asyncio.sleep(interval)
