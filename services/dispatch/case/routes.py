from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.dispatch.case import service
from services.dispatch.case.schemas import CaseOut, CasePage
from shared.app import SessionDep
from shared.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/v1", tags=["cases"])


@router.get("/cases/{case_id}", response_model=CaseOut)
async def read_case(case_id: str, session: SessionDep) -> CaseOut:
    """One case's status by its id (no personal data)."""
    case = await service.get(session, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return CaseOut.model_validate(case)


MAX_IDS = 200


@router.get("/cases", response_model=CasePage)
async def list_cases(
    session: SessionDep,
    complaint_id: Annotated[str | None, Query(max_length=4000, description="one id, or up to 200 "
                                              "comma-separated (one request for a caller's history)")] = None,
    tracking_code: Annotated[str | None, Query(max_length=20)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_IDS)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CasePage:
    """Cases of some complaints or of a tracking code (service-to-service status; no personal data).
    Listing every case needs the dispatcher API (``/api/v1/dispatch/cases``, with a key)."""
    ids = [i for i in (complaint_id or "").split(",") if i.strip()]
    if not (ids or tracking_code):
        raise InvalidInput("give complaint_id or tracking_code", field="complaint_id")
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS} complaint ids per request", field="complaint_id")
    cases = await service.find(
        session, complaint_ids=[i.strip() for i in ids], tracking_code=tracking_code, state=state, limit=limit,
        offset=offset,
    )
    return CasePage(items=[CaseOut.model_validate(c) for c in cases], limit=limit, offset=offset)
