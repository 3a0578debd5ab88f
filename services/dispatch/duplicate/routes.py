"""Dispatcher view of suspected duplicates (疑似重复) and automatic merges (并单), and the decision itself for any two
reports (``POST /api/v1/dispatch/duplicates/compare``). Dispatcher keys only."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from services.dispatch.auth.service import DispatcherDep
from services.dispatch.case.models import Case
from services.dispatch.duplicate.schemas import CompareIn, CompareOut
from services.dispatch.duplicate.service import compare_cases, duplicates_of
from shared.app import SessionDep
from shared.duplicates import compare, warm_up
from shared.errors import NotFound
from shared.validation import AuthFirstRoute


@asynccontextmanager
async def _warm_up(app: FastAPI) -> AsyncIterator[None]:
    """Load jieba's dictionary while the service starts, not inside the first complaint's transaction."""
    threading.Thread(target=warm_up, name="duplicates-warm-up", daemon=True).start()
    yield


router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatcher"], route_class=AuthFirstRoute, lifespan=_warm_up)

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown API key"},
    403: {"description": "not a dispatcher key"},
}


class DuplicateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    candidate_id: str
    score: float
    text_score: float
    distance_m: float | None
    status: str
    created_at: datetime
    #: the decision and its reasons for this pair as 并单 judges it now (both cases as they are)
    decision: str | None = None
    reasons: list[str] = []


class DuplicateList(BaseModel):
    case_id: str
    merged_into: str | None
    items: list[DuplicateOut]


@router.get(
    "/duplicates",
    response_model=DuplicateList,
    summary="Suspected duplicates and merges of a case",
    responses={**_AUTH, 404: {"description": "no such case"}},
)
async def list_duplicates(case_id: str, session: SessionDep, who: DispatcherDep) -> DuplicateList:
    """Links where the case is the new one (``case_id``) or the earlier one (``candidate_id``);
    ``status`` is ``merged`` (automatic 并单) or ``suggested`` (for a dispatcher to decide), with the
    decision's reasons in Chinese (相距、间隔、事项、描述)."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    links = await duplicates_of(session, case_id)
    ids = {link.case_id for link in links} | {link.candidate_id for link in links}
    cases = {c.id: c for c in (await session.execute(select(Case).where(Case.id.in_(ids)))).scalars()} if ids else {}
    pairs = [(cases.get(link.case_id), cases.get(link.candidate_id)) for link in links]
    judged = await asyncio.to_thread(
        lambda: [compare_cases(new, old) if new is not None and old is not None else None for new, old in pairs]
    )
    items = []
    for link, result in zip(links, judged, strict=True):
        item = DuplicateOut.model_validate(link)
        if result is not None:
            item.decision, item.reasons = result.decision, list(result.reasons)
        items.append(item)
    return DuplicateList(case_id=case_id, merged_into=case.merged_into, items=items)


@router.post(
    "/duplicates/compare",
    response_model=CompareOut,
    summary="并单 decision for two reports",
    responses=_AUTH,
)
async def compare_reports(body: CompareIn, who: DispatcherDep) -> CompareOut:
    """Are two reports the same problem at the same place? ``score`` 0..1, ``decision`` ``merge`` (would be merged
    automatically), ``suggest`` (shown to a dispatcher) or ``separate``, and the ``reasons`` in Chinese — the same
    decision the automatic 并单 before routing and the hotline console's duplicate panel use. Without a matter the
    decision rests on the text, the place and the time."""
    result = await asyncio.to_thread(compare, body.a.to_report(), body.b.to_report())
    return CompareOut(
        score=result.score,
        decision=result.decision,
        reasons=list(result.reasons),
        text_score=result.text_score,
        distance_m=result.distance_m,
        hours=result.hours,
        shared=list(result.text.shared),
    )
