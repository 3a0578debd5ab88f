"""并单 / 疑似重复: a new case about a problem an open case already covers.

Candidates: open cases of the same category, received in the 7 days before the new one, within
~200 m (haversine on lon/lat) — or in the same grid when either case has no point — whose text is
similar (mean of the character-bigram Jaccard and rapidfuzz's ratio, both 0..1). At or above
:data:`MERGE_THRESHOLD` the new case is merged into the best candidate through the core's ``merge``
transition (the citizen then follows the master case: the ``merged`` event carries the master's
tracking code for notify); between :data:`SUGGEST_THRESHOLD` and it, a suggestion is stored for
the dispatchers (``GET /api/v1/dispatch/duplicates?case_id=``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from rapidfuzz import fuzz
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case.models import Case
from services.dispatch.duplicate.models import CaseDuplicate

RADIUS_M = 200.0
WINDOW = timedelta(days=7)
MERGE_THRESHOLD = 0.6
SUGGEST_THRESHOLD = 0.3
MAX_CANDIDATES = 50
ACTOR = "system:duplicates"
#: Cases a new complaint may follow (open, not already merged into another).
MASTER_STATES = ("triage", "dispatched", "signed", "returned", "suspended", "replied")
_EARTH_M = 6_371_008.8
_PUNCT = set(" \t\r\n，。！？、；：,.!?;:\"'“”‘’（）()【】[]…-—")


@dataclass(frozen=True)
class Candidate:
    case_id: str
    tracking_code: str
    score: float
    text_score: float
    distance_m: float | None
    same_grid: bool


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch not in _PUNCT)


def bigrams(text: str) -> set[str]:
    t = _clean(text)
    return {t[i : i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


def text_similarity(a: str, b: str) -> float:
    """0..1: mean of the character-bigram Jaccard and rapidfuzz's normalised ratio."""
    ba, bb = bigrams(a), bigrams(b)
    jaccard = len(ba & bb) / len(ba | bb) if ba and bb else 0.0
    return (jaccard + fuzz.ratio(_clean(a), _clean(b)) / 100) / 2


async def find_duplicates(session: AsyncSession, case: Case) -> list[Candidate]:
    """Open cases of the same category near ``case`` in the last 7 days with similar text, best first."""
    if not case.category:
        return []
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
        select(Case)
        .where(
            Case.id != case.id,
            Case.category == case.category,
            Case.state.in_(MASTER_STATES),
            Case.received_at >= case.received_at - WINDOW,
            Case.received_at <= case.received_at,
            or_(*near),
        )
        .order_by(Case.received_at)
        .limit(MAX_CANDIDATES)
    )
    found: list[Candidate] = []
    for other in (await session.execute(stmt)).scalars():
        distance = None
        if None not in (case.lon, case.lat, other.lon, other.lat):
            distance = haversine_m(case.lon, case.lat, other.lon, other.lat)  # type: ignore[arg-type]
            if distance > RADIUS_M:
                continue
        elif not (case.grid_code and case.grid_code == other.grid_code):
            continue
        similarity = text_similarity(case.text, other.text)
        found.append(
            Candidate(
                other.id,
                other.tracking_code,
                round(similarity, 4),
                round(similarity, 4),
                None if distance is None else round(distance, 1),
                bool(case.grid_code and case.grid_code == other.grid_code),
            )
        )
    found.sort(key=lambda c: -c.score)
    return found


async def merge_or_suggest(session: AsyncSession, case: Case, *, defer: bool = False) -> Candidate | None:
    """Merge ``case`` into its best duplicate (score ≥ MERGE_THRESHOLD) — returns that master — or
    store the candidates above SUGGEST_THRESHOLD as suggestions for the dispatchers (returns None)."""
    from services.dispatch.case import flows
    from services.dispatch.case.state import OPEN_STATES

    if case.state not in OPEN_STATES or case.state in ("replied", "verified", "surveyed") or case.merged_into:
        return None
    candidates = [c for c in await find_duplicates(session, case) if c.score >= SUGGEST_THRESHOLD]
    if not candidates:
        return None
    master = candidates[0] if candidates[0].score >= MERGE_THRESHOLD else None
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
    await session.execute(insert(CaseDuplicate).values(rows).on_conflict_do_nothing())
    if master is None:
        return None
    await flows.transition(
        session,
        case,
        "merge",
        actor=ACTOR,
        reason=f"重复诉求，并入 {master.tracking_code}",
        master_id=master.case_id,
        master_tracking_code=master.tracking_code,
        score=master.score,
        distance_m=master.distance_m,
        defer=defer,
    )
    return master


async def duplicates_of(session: AsyncSession, case_id: str) -> list[CaseDuplicate]:
    """Links where ``case_id`` is the new case or the earlier one, best first."""
    stmt = (
        select(CaseDuplicate)
        .where(or_(CaseDuplicate.case_id == case_id, CaseDuplicate.candidate_id == case_id))
        .order_by(CaseDuplicate.score.desc(), CaseDuplicate.id)
    )
    return list((await session.execute(stmt)).scalars())
