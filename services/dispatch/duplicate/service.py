"""并单 / 疑似重复: a new case about a problem an open case already covers.

Candidates: open cases received in the 7 days before the new one within ~200 m (haversine on lon/lat) — or in the
same grid when either case has no point. Each is judged by :func:`shared.duplicates.compare` (matter/category
agreement, distance, time gap and the meaning of the two texts — a paraphrase in other words, dialect or another
register still matches; see :mod:`shared.duplicates`). The best ``merge`` candidate becomes the master: the new case
is merged through the core's ``merge`` transition (the citizen then follows the master case: the ``merged`` event
carries the master's tracking code for notify), with the reasons in its history. ``suggest`` candidates are stored
for the dispatchers (``GET /api/v1/dispatch/duplicates?case_id=``).

When a master case closes, the cases merged into it close with it: :class:`MergedFollowers`, a listener of the
core's transitions (:mod:`services.dispatch.case.hooks`).

This module scores nothing itself. It imports from ``case`` the model, the state machine and the transition it
applies; ``case`` never imports it (one direction: ``duplicate`` → ``case``). Opening a case calls
:func:`merge_or_suggest` from :mod:`services.dispatch.opening`, above both.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from services.dispatch.case import flows
from services.dispatch.case.hooks import Transition
from services.dispatch.case.models import Case
from services.dispatch.case.state import OPEN_STATES
from services.dispatch.duplicate.models import CaseDuplicate
from shared.db import table_of
from shared.duplicates import MERGE_RADIUS_M, WINDOW, Comparison, Report, compare, haversine_m

RADIUS_M = MERGE_RADIUS_M
MAX_CANDIDATES = 50
ACTOR = "system:duplicates"
#: Cases a new complaint may follow (open, not already merged into another).
MASTER_STATES = ("triage", "dispatched", "signed", "returned", "suspended", "replied")

__all__ = [
    "ACTOR",
    "MASTER_STATES",
    "RADIUS_M",
    "Candidate",
    "MergedFollowers",
    "close_followers",
    "compare_cases",
    "duplicates_of",
    "find_duplicates",
    "haversine_m",
    "merge_or_suggest",
    "report_of",
]


@dataclass(frozen=True)
class Candidate:
    case_id: str
    tracking_code: str
    score: float
    text_score: float
    distance_m: float | None
    same_grid: bool
    decision: str = "separate"  # merge | suggest | separate
    reasons: tuple[str, ...] = ()


#: What 并单 reads of a candidate (a Core row of these instead of whole ORM objects: the SELECT runs per new case).
_CANDIDATE_COLUMNS = (
    Case.id,
    Case.tracking_code,
    Case.state,
    Case.merged_into,
    Case.text,
    Case.address,
    Case.lon,
    Case.lat,
    Case.grid_code,
    Case.received_at,
    Case.matter_code,
    Case.category,
)


def report_of(case: Case | Row[Any]) -> Report:
    """A case as 并单 compares it (its text, place, time of receipt and routed matter)."""
    received = case.received_at
    if received is not None and received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    return Report(
        text=case.text or "",
        address=case.address,
        lon=case.lon,
        lat=case.lat,
        time=received,
        matter_code=case.matter_code,
        category=case.category,
        grid_code=case.grid_code,
    )


def compare_cases(new: Case, earlier: Case) -> Comparison:
    return compare(report_of(new), report_of(earlier))


def _judge(new: Report, others: Sequence[tuple[str, str, Report]]) -> list[tuple[str, str, Comparison]]:
    return [(case_id, code, compare(new, other)) for case_id, code, other in others]


async def find_duplicates(session: AsyncSession, case: Case) -> list[Candidate]:
    """Open cases near ``case`` received in the 7 days before it, each with its 并单 decision, best first
    (``separate`` ones included: callers keep what they need)."""
    near = []
    if case.lon is not None and case.lat is not None:
        dlat = RADIUS_M / 111_000 * 1.5
        dlon = dlat / max(0.1, math.cos(math.radians(case.lat)))
        near.append(
            and_(Case.lat.between(case.lat - dlat, case.lat + dlat), Case.lon.between(case.lon - dlon, case.lon + dlon))
        )
    if case.grid_code:
        near.append(Case.grid_code == case.grid_code)
    if not near:
        return []
    stmt = (
        select(*_CANDIDATE_COLUMNS)
        .where(
            Case.id != case.id,
            # "accepted": a case opened earlier in this very batch is still "accepted" in the database (its
            # routing is flushed with the batch); its object in the session holds the state and matter just
            # decided, so such a case is judged from that object, the others from the row
            Case.state.in_((*MASTER_STATES, "accepted")),
            Case.received_at >= case.received_at - WINDOW,
            Case.received_at <= case.received_at,
            or_(*near),
        )
        .order_by(Case.received_at.desc())
        .limit(MAX_CANDIDATES)
    )
    others: list[tuple[str, str, Report]] = []
    grids: dict[str, bool] = {}
    for row in (await session.execute(stmt)).all():
        other: Case | Row[Any] = session.identity_map.get(identity_key(Case, row.id)) or row
        if other.state not in MASTER_STATES or other.merged_into:
            continue
        if None not in (case.lon, case.lat, other.lon, other.lat):
            if haversine_m(case.lon, case.lat, other.lon, other.lat) > RADIUS_M:  # type: ignore[arg-type]
                continue
        elif not (case.grid_code and case.grid_code == other.grid_code):
            continue
        others.append((other.id, other.tracking_code, report_of(other)))
        grids[other.id] = bool(case.grid_code and case.grid_code == other.grid_code)
    if not others:
        return []
    # jieba and the scoring are CPU work (and the first call loads a dictionary): off the event loop
    judged = await asyncio.to_thread(_judge, report_of(case), others)
    found = [
        Candidate(
            case_id,
            code,
            result.score,
            result.text_score,
            result.distance_m,
            grids[case_id],
            result.decision,
            result.reasons,
        )
        for case_id, code, result in judged
    ]
    found.sort(key=lambda c: (c.decision != "merge", -c.score))
    return found


async def merge_or_suggest(session: AsyncSession, case: Case, *, defer: bool = False) -> Candidate | None:
    """Merge ``case`` into its best ``merge`` candidate — returns that master — or store the ``suggest``
    candidates for the dispatchers (returns None)."""
    if case.state not in OPEN_STATES or case.state in ("replied", "verified", "surveyed") or case.merged_into:
        return None
    candidates = [c for c in await find_duplicates(session, case) if c.decision in ("merge", "suggest")]
    if not candidates:
        return None
    master = candidates[0] if candidates[0].decision == "merge" else None
    rows = [
        {
            "case_id": case.id,
            "candidate_id": c.case_id,
            "score": c.score,
            "text_score": c.text_score,
            "distance_m": c.distance_m,
            "status": "merged" if c is master else "suggested",
        }
        for c in candidates
    ]
    if rows:
        await session.execute(insert(table_of(CaseDuplicate)).on_conflict_do_nothing(), rows)
    if master is None:
        return None
    await flows.transition(
        session,
        case,
        "merge",
        actor=ACTOR,
        reason=f"重复诉求，并入 {master.tracking_code}（{'；'.join(master.reasons)}）",
        master_id=master.case_id,
        master_tracking_code=master.tracking_code,
        score=master.score,
        distance_m=master.distance_m,
        defer=defer,
    )
    return master


async def close_followers(session: AsyncSession, master: Case, *, actor: str, now: datetime) -> None:
    """并单: cases merged into ``master`` close with it."""
    followers = (
        await session.execute(select(Case).where(Case.merged_into == master.id, Case.state == "merged"))
    ).scalars()
    for follower in list(followers):
        await flows.transition(
            session,
            follower,
            "close",
            actor=actor,
            reason=f"主工单{master.tracking_code}已结案",
            now=now,
            master_id=master.id,
        )


class MergedFollowers:
    """Transition listener (installed by :func:`services.dispatch.wiring.install_listeners`): when a case that is
    not itself merged closes, :func:`close_followers` closes the cases merged into it, in the same transaction.
    A deferred close (a new case closed at once while opening) has no followers yet and is left alone."""

    async def on_transition(self, session: AsyncSession, case: Case, change: Transition) -> None:
        if change.deferred or change.command != "close" or change.from_state == "merged":
            return
        await close_followers(session, case, actor=change.actor, now=change.now)


async def duplicates_of(session: AsyncSession, case_id: str) -> list[CaseDuplicate]:
    """Links where ``case_id`` is the new case or the earlier one, best first."""
    stmt = (
        select(CaseDuplicate)
        .where(or_(CaseDuplicate.case_id == case_id, CaseDuplicate.candidate_id == case_id))
        .order_by(CaseDuplicate.score.desc(), CaseDuplicate.id)
    )
    return list((await session.execute(stmt)).scalars())
