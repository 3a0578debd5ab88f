"""SLA timers: scheduling (following the case transitions) and the scanner that fires them exactly once.

Scheduling — functions take a session and flush nothing themselves; the caller's transaction
(the same one that changes the case) owns them. :class:`SlaTimers` is the transition listener
(:mod:`services.dispatch.case.hooks`) through which every transition reaches
:func:`on_case_transition`; the core's ``transition`` never imports this module, this module
imports the core (one direction: ``sla`` → ``case``):

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
A batch is written in a fixed number of statements (see the firing section below); a timer that
needs more (healing, 未评价) or a batch that fails is handled timer by timer in savepoints.
:func:`run_scanner` runs several scanners per process; any number of dispatch replicas may scan at
once; a crash rolls the batch back and another scan fires it. A timer that no longer applies (the
case moved on, or its deadline moved) is marked ``skipped`` — the scanner reschedules a moved
deadline itself, so an extension approved without a call to :func:`schedule_case_timers` still
gets correct timers.

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
from sqlalchemy import String, any_, bindparam, delete, func, insert, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.case import flows, hooks
from services.dispatch.case.hooks import Transition
from services.dispatch.case.models import Case
from services.dispatch.case.state import ACTIONS, IllegalTransition
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
    """What the SLA clock does after a transition (same session, after the row update); :class:`SlaTimers`
    calls it for every transition that is not deferred.

    ``action`` is the recorded action (``dispatched`` …) or the command (``dispatch`` …). Maps it to
    the timer operations: reschedule the clock on dispatch/reassign/arbitrate/reopen/resume/extension
    approval (and on a failed 核查, which reopens), drop ``sign_due`` on sign, stop the clock on
    suspend, start the survey timer on reply, the report timer on whistle, drop everything on
    merge/close/transfer/answer. Self-loops (urge, supervise …) change nothing."""
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


class SlaTimers:
    """The SLA clock as a case transition listener (installed by :func:`services.dispatch.wiring.install_listeners`).

    A deferred transition (new cases of :func:`services.dispatch.opening.open_cases`, the scanner's batch of
    self-loop escalations) is left alone: its caller writes the timers of the whole batch itself."""

    async def on_transition(self, session: AsyncSession, case: Case, change: Transition) -> None:
        if change.deferred:
            return
        await on_case_transition(session, case, change.action, now=change.now)


async def timers_for(session: AsyncSession, case_id: str) -> list[CaseTimer]:
    stmt = select(CaseTimer).where(CaseTimer.case_id == case_id).order_by(CaseTimer.due_at, CaseTimer.id)
    return list((await session.execute(stmt)).scalars())


# ---------------------------------------------------------------------------------------- firing
#
# A scan claims due timers with ``FOR UPDATE SKIP LOCKED`` and locks their cases with ``SKIP LOCKED``
# (a case busy in a request, or held by another scanner, is retried on a later scan). Two paths:
#
# - the batch path (every escalation: sign_due/yellow/red/publicize/whistle_due, and every skip): the
#   outcome of each timer is decided in Python, escalations go through the core's ``transition`` with
#   ``defer=True`` (the case is locked by this transaction, so nobody else can hold it; nothing is
#   flushed per timer), then the batch is written in a fixed number of statements whatever its size:
#   one executemany UPDATE of the escalated cases, the history entries and outbox events in bulk
#   INSERTs, one UPDATE marking every timer of the batch;
# - the isolated path (a timer whose deadline moved and needs healing, ``survey_due`` which closes the
#   case through several transitions, and — should the batch path raise — the whole batch again in a
#   new transaction): one SAVEPOINT per timer, so a failing timer is retried or given up alone.
#
# Exactly once: the timer rows are locked from the claim to the commit that marks them together with
# the events they staged; a crash rolls both back and a later scan fires them.

#: Escalations that are self-loops (the state does not change) and leave the timers alone
#: (:func:`on_case_transition` does nothing for them, and no other listener reacts to them): safe to apply
#: with ``transition(defer=True)``.
_BATCHABLE = frozenset({"warn", "urge", "supervise", "publicize"})
#: Default scanner shape (``sla_scan_batch_size`` / ``sla_scan_workers`` settings override them).
SCAN_BATCH = 500
SCAN_WORKERS = 2
#: Shortest pause between two scans of one worker when timers fall due continuously.
MIN_PAUSE_S = 0.02

_CLAIM = text(
    "SELECT id, case_id, kind, due_at FROM case_timers WHERE fired_at IS NULL AND due_at <= :now "
    "ORDER BY due_at, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_LOCK_CASES = (
    select(Case)
    .where(Case.id == any_(bindparam("ids", type_=ARRAY(String))))
    .with_for_update(skip_locked=True)
    .execution_options(populate_existing=True)
)
_EXISTING = text("SELECT id FROM cases WHERE id = ANY(CAST(:ids AS text[]))")
#: ``fired_at`` is the moment of this statement, the last of the transaction before its commit.
_MARK = text(
    "UPDATE case_timers SET fired_at = clock_timestamp(), outcome = v.outcome "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:outcomes AS text[])) AS v(id, outcome) WHERE case_timers.id = v.id"
)
_NEXT_DUE = text("SELECT extract(epoch FROM min(due_at) - now()) FROM case_timers WHERE fired_at IS NULL")

ISOLATE = "isolate"


def _counts() -> dict[str, int]:
    return {"fired": 0, "skipped": 0, "failed": 0, "retry": 0, "busy": 0}


def _escalation(kind: str, due_at: dt.datetime, case: Case | None) -> tuple[str, str, dict[str, Any]] | str:
    """What ``kind`` means for ``case`` now, without touching the database: ``"skipped"`` (no longer
    applies), :data:`ISOLATE` (needs the isolated path) or ``(command, reason, details)`` to apply."""
    if case is None:
        return "skipped"
    details: dict[str, Any] = {"timer": kind, "due_at": due_at.isoformat()}
    if kind in CLOCK_KINDS or kind == "sign_due":
        if kind == "sign_due" and case.state not in SIGN_STATES:
            return "skipped"
        if case.state not in CLOCK_STATES:
            return "skipped"
        if kind in CLOCK_KINDS:
            expected = {p.kind: p.due_at for p in plan_for_case(case, sign=False)}
            if kind in expected and abs((expected[kind] - due_at).total_seconds()) > 1:
                return ISOLATE  # the deadline moved without a reschedule: heal (isolated path)
        if kind == "sign_due":
            return "warn", "超时未签收 (sign-for limit passed)", details
        if kind == "yellow":
            return "urge", "预警催办: 80% of the time limit used", {**details, "level": "yellow", "to": [case.lead]}
        if kind == "red":
            to = [f"{case.lead}:head", f"{case.street_code or 'center'}:center"]
            return "supervise", "超期督办: the time limit has passed", {**details, "level": "red", "to": to}
        return "publicize", "超期通报: still open 5 working days after the limit", {**details, "level": "publicize"}
    if kind == "survey_due":
        return ISOLATE if case.state in SURVEY_STATES else "skipped"
    if kind == "whistle_due":
        departments = (case.whistle or {}).get("departments", {})
        pending = sorted(code for code, reported_at in departments.items() if reported_at is None)
        if not pending or case.state not in CLOCK_STATES:
            return "skipped"
        return "urge", "吹哨报到超时 (not reported within 30 minutes)", {**details, "level": "whistle", "to": pending}
    return "skipped"


async def _apply_timer(
    session: AsyncSession, timer: CaseTimer, case: Case | None, now: dt.datetime, claimed: Sequence[int]
) -> str:
    """Isolated path: do what ``timer`` means for ``case`` now; return the outcome (fired | skipped)."""
    decision = _escalation(timer.kind, timer.due_at, case)
    if isinstance(decision, tuple):
        command, reason, details = decision
        assert case is not None
        await flows.transition(session, case, command, actor=SYSTEM_ACTOR, reason=reason, now=now, **details)
        return "fired"
    if decision != ISOLATE or case is None:
        return decision
    if timer.kind == "survey_due":
        # 回访超时未评价: no answer in 3 working days
        await flows.apply_survey(session, case, "未评价", actor=SYSTEM_ACTOR, comment="回访超时未评价", now=now)
        await cancel_case_timers(session, case.id, keep=claimed)
        return "fired"
    # the deadline moved (extension, reopen) without a reschedule: heal and skip this one
    # (the rows this batch claimed are left for the batch to mark)
    await _replace(session, case.id, CLOCK_KINDS, plan_for_case(case, sign=False), keep=claimed)
    return "skipped"


def _is_illegal(exc: Exception) -> bool:
    """The case no longer allows the timer's action (it moved on): skip, do not retry."""
    return isinstance(exc, flows.IllegalTransitionError | IllegalTransition)


def _record(counts: dict[str, int], kind: str, outcome: str) -> None:
    counts[outcome] += 1
    TIMERS_FIRED.labels(kind, outcome).inc()


async def _fire_isolated(
    session: AsyncSession,
    timer_ids: Sequence[int],
    cases: dict[str, Case],
    now: dt.datetime,
    claimed: Sequence[int],
    counts: dict[str, int],
) -> None:
    """One SAVEPOINT per timer (rows already claimed, cases already locked by this transaction)."""
    timers = (
        await session.execute(select(CaseTimer).where(CaseTimer.id.in_(list(timer_ids))).order_by(CaseTimer.due_at))
    ).scalars()
    for timer in list(timers):
        timer_id, kind, case_id, attempts = timer.id, timer.kind, timer.case_id, timer.attempts or 0
        case = cases.get(case_id)
        if case is not None and (case not in session or sa_inspect(case).expired_attributes):
            # written by the batch path, or rolled back with an earlier timer's savepoint: read it again
            case = await session.get(Case, case_id, populate_existing=True)
        try:
            async with session.begin_nested():
                # marked first: the transition it triggers reschedules the case's timers and
                # must not cancel the one being fired (cancellation drops only unfired rows)
                timer.fired_at, timer.outcome = now, "firing"
                await session.flush()
                outcome = await _apply_timer(session, timer, case, now, claimed)
                timer.outcome = outcome
                await session.flush()
        except Exception as exc:  # noqa: BLE001 - one bad timer must not block the others
            # the savepoint rolled back: forget whatever this attempt changed in memory
            session.expire(timer)
            if case is not None:
                session.expire(case)
            values: dict[str, Any]
            if _is_illegal(exc):
                outcome, values = "skipped", {"fired_at": now, "outcome": "skipped"}
            else:
                attempts += 1
                values = {"attempts": attempts, "last_error": repr(exc)[:500]}
                if attempts >= MAX_ATTEMPTS:
                    outcome = "failed"
                    values.update(fired_at=now, outcome="failed")
                    log.error("sla timer failed for good", timer=timer_id, kind=kind, case_id=case_id, error=repr(exc))
                else:
                    outcome = "retry"
                    values["due_at"] = now + RETRY_AFTER * attempts
                    log.warning(
                        "sla timer failed, will retry", timer=timer_id, kind=kind, case_id=case_id, error=repr(exc)
                    )
            await session.execute(
                update(CaseTimer)
                .where(CaseTimer.id == timer_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        _record(counts, kind, outcome)


async def _write_cases(session: AsyncSession, cases: Iterable[Case]) -> None:
    """Write the changed columns of ``cases`` (locked by this transaction) with one executemany UPDATE per
    set of changed columns, instead of the ORM's one version-checked UPDATE per row; detach them after."""
    table = Case.__table__
    columns = {attr.key: attr.columns[0] for attr in sa_inspect(Case).column_attrs}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for case in cases:
        state = sa_inspect(case)
        # committed_state holds the original value of every attribute set since the load
        changed = {
            columns[key].name: state.dict[key]
            for key in state.committed_state
            if key in columns and key != "version" and state.dict.get(key) != state.committed_state[key]
        }
        session.expunge(case)
        if changed:
            groups.setdefault(tuple(sorted(changed)), []).append(
                {"b_id": case.id, **{f"b_{k}": v for k, v in changed.items()}}
            )
    for names, params in groups.items():
        values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in names}
        values["version"] = table.c.version + 1
        stmt = table.update().where(table.c.id == bindparam("b_id")).values(values)  # type: ignore[attr-defined]
        await session.execute(stmt, params)


async def _fire_batch(session: AsyncSession, limit: int, now: dt.datetime, counts: dict[str, int]) -> None:
    rows = list(await session.execute(_CLAIM, {"now": now, "limit": limit}))
    if not rows:
        return
    claimed = [r.id for r in rows]
    case_ids = sorted({r.case_id for r in rows})
    locked = {c.id: c for c in (await session.execute(_LOCK_CASES, {"ids": case_ids})).scalars()}
    existing = set(locked)
    if len(locked) < len(case_ids):
        missing = [c for c in case_ids if c not in locked]
        existing |= set((await session.execute(_EXISTING, {"ids": missing})).scalars())
    marks: list[tuple[int, str, str]] = []  # (timer id, outcome, kind)
    isolated: list[int] = []
    escalated: dict[str, Case] = {}
    for row in rows:
        if row.case_id in existing and row.case_id not in locked:
            counts["busy"] += 1  # a request or another scanner holds the case: a later scan
            continue
        case = locked.get(row.case_id)
        decision = _escalation(row.kind, row.due_at, case)
        if decision == ISOLATE:
            isolated.append(row.id)
            continue
        if isinstance(decision, tuple) and case is not None:
            command, reason, details = decision
            assert command in _BATCHABLE
            try:
                await flows.transition(
                    session, case, command, actor=SYSTEM_ACTOR, reason=reason, now=now, defer=True, **details
                )
            except flows.IllegalTransitionError:  # raised before the case is touched
                marks.append((row.id, "skipped", row.kind))
                continue
            escalated[case.id] = case
            marks.append((row.id, "fired", row.kind))
        else:
            marks.append((row.id, "skipped", row.kind))
    await _write_cases(session, escalated.values())
    await session.flush()  # history entries and outbox events: bulk INSERTs
    if isolated:
        await _fire_isolated(session, isolated, locked, now, claimed, counts)
    if marks:
        await session.execute(_MARK, {"ids": [m[0] for m in marks], "outcomes": [m[1] for m in marks]})
    for _, outcome, kind in marks:
        _record(counts, kind, outcome)


async def fire_due_timers(
    sessionmaker: async_sessionmaker[AsyncSession], *, limit: int = SCAN_BATCH, now: dt.datetime | None = None
) -> dict[str, int]:
    """Fire up to ``limit`` due timers in one short transaction; return counts by outcome
    (``fired``, ``skipped``, ``failed``, ``retry``, ``busy`` = case locked elsewhere, left for later).

    Batch path first; if it raises (anything but a transition the case no longer allows, which is a
    skip), the transaction rolls back and the batch is claimed again and fired timer by timer.

    Raises :class:`~services.dispatch.case.hooks.TransitionListenersNotInstalled` before claiming anything when
    the transition listeners were never installed (rather than failing every timer it claims)."""
    hooks.transition_listeners()
    counts = _counts()
    with SCAN_SECONDS.time():
        now = now or _now()
        try:
            async with sessionmaker() as session, session.begin():
                await _fire_batch(session, limit, now, counts)
            return counts
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the failing timer below
            log.warning("sla batch failed; firing timer by timer", error=repr(exc))
        counts = _counts()
        async with sessionmaker() as session, session.begin():
            rows = list(await session.execute(_CLAIM, {"now": now, "limit": limit}))
            if not rows:
                return counts
            claimed = [r.id for r in rows]
            case_ids = sorted({r.case_id for r in rows})
            locked = {c.id: c for c in (await session.execute(_LOCK_CASES, {"ids": case_ids})).scalars()}
            busy = set()
            if len(locked) < len(case_ids):
                missing = [c for c in case_ids if c not in locked]
                busy = set((await session.execute(_EXISTING, {"ids": missing})).scalars())
            counts["busy"] += sum(1 for r in rows if r.case_id in busy)
            await _fire_isolated(session, [r.id for r in rows if r.case_id not in busy], locked, now, claimed, counts)
    return counts


async def next_due_in(sessionmaker: async_sessionmaker[AsyncSession]) -> float | None:
    """Seconds until the earliest unfired timer falls due (negative: already due; None: no open timer).
    One probe of the partial due-time index, whatever the number of open timers."""
    async with sessionmaker() as session:
        value = (await session.execute(_NEXT_DUE)).scalar()
    return None if value is None else float(value)


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


async def _scan_loop(runtime: ServiceRuntime, worker: int, interval: float, batch: int) -> None:
    while True:
        try:
            counts = await fire_due_timers(runtime.sessionmaker, limit=batch)
            handled = counts["fired"] + counts["skipped"] + counts["failed"] + counts["retry"]
            if handled >= batch:
                mark_success(runtime.name, "run_scanner")
                continue  # a full batch: more are due, scan again at once
            due_in = await next_due_in(runtime.sessionmaker)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.warning("sla scan failed; retrying", worker=worker, error=repr(exc))
            await asyncio.sleep(interval)
            continue
        mark_success(runtime.name, "run_scanner")
        # wake when the next timer falls due (not later than the interval, not sooner than MIN_PAUSE_S:
        # a timer due now but held by another scanner must not make this one spin)
        pause = interval if due_in is None else min(interval, max(MIN_PAUSE_S, due_in))
        await asyncio.sleep(pause)


async def run_scanner(runtime: ServiceRuntime) -> None:
    """Background job of the dispatch service: ``sla_scan_workers`` concurrent scanners (each its own
    transactions; ``SKIP LOCKED`` keeps them apart, as it keeps replicas apart), each waking when the
    next timer falls due (at least every ``sla_scan_interval_s``) and scanning again at once after a
    full batch. Errors (database restarts) are logged and the loops go on."""
    settings = runtime.settings
    interval = float(getattr(settings, "sla_scan_interval_s", 1.0))
    batch = int(getattr(settings, "sla_scan_batch_size", SCAN_BATCH))
    workers = max(1, int(getattr(settings, "sla_scan_workers", SCAN_WORKERS)))
    log.info("sla scanner started", interval_s=interval, batch=batch, workers=workers)
    await asyncio.gather(*(_scan_loop(runtime, i, interval, batch) for i in range(workers)))
