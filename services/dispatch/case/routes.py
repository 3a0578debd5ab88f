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


@router.get("/cases", response_model=CasePage)
async def list_cases(
    session: SessionDep,
    complaint_id: str | None = None,
    tracking_code: str | None = None,
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CasePage:
    """Cases of one complaint or tracking code (service-to-service status; no personal data). Listing
    every case needs the dispatcher API (``/api/v1/dispatch/cases``, with a key)."""
    if not (complaint_id or tracking_code):
        raise InvalidInput("give complaint_id or tracking_code", field="complaint_id")
    cases = await service.find(
        session, complaint_id=complaint_id, tracking_code=tracking_code, state=state, limit=limit, offset=offset
    )
    return CasePage(items=[CaseOut.model_validate(c) for c in cases], limit=limit, offset=offset)
