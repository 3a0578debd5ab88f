"""Dispatcher view of suspected duplicates (疑似重复) and automatic merges (并单)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from services.dispatch.auth.service import DispatcherDep
from services.dispatch.case.models import Case
from services.dispatch.duplicate.service import duplicates_of
from shared.app import SessionDep
from shared.errors import NotFound

router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatcher"])


class DuplicateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    candidate_id: str
    score: float
    text_score: float
    distance_m: float | None
    status: str
    created_at: datetime


class DuplicateList(BaseModel):
    case_id: str
    merged_into: str | None
    items: list[DuplicateOut]


@router.get(
    "/duplicates",
    response_model=DuplicateList,
    summary="Suspected duplicates and merges of a case",
    responses={404: {"description": "no such case"}},
)
async def list_duplicates(case_id: str, session: SessionDep, who: DispatcherDep) -> DuplicateList:
    """Links where the case is the new one (``case_id``) or the earlier one (``candidate_id``);
    ``status`` is ``merged`` (automatic 并单) or ``suggested`` (for a dispatcher to decide)."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    links = await duplicates_of(session, case_id)
    return DuplicateList(
        case_id=case_id, merged_into=case.merged_into, items=[DuplicateOut.model_validate(link) for link in links]
    )
