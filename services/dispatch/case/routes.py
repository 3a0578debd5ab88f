"""Unkeyed case status (no text, address, coordinates or reporter), rate-limited per client address:
one case or a tracking code at the public rate (``LINKAGE_PUBLIC_RATE_…``), batches of complaint ids (how intake
asks for caller history and Open311 states) at the service rate (``LINKAGE_SERVICE_RATE_…``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.dispatch.case import service
from services.dispatch.case.schemas import CaseOut, CasePage
from shared.access import public
from shared.app import SessionDep
from shared.errors import InvalidInput, NotFound
from shared.ratelimit import public_rate_limit, service_rate_limit

router = APIRouter(prefix="/api/v1", tags=["cases"])
LOOKUP_LIMIT = public_rate_limit("case-lookup")
STATUS_LIMIT = service_rate_limit("case-status")


async def list_limit(request: Request) -> None:
    """Lookups by tracking code count as public lookups; batches of complaint ids as service reads."""
    params = request.query_params
    limit = STATUS_LIMIT if params.get("complaint_id") and not params.get("tracking_code") else LOOKUP_LIMIT
    limit.check(request)


@router.get(
    "/cases/{case_id}",
    response_model=CaseOut,
    dependencies=[Depends(LOOKUP_LIMIT)],
    openapi_extra=public("status only, no personal data; rate-limited"),
)
async def read_case(case_id: str, session: SessionDep) -> CaseOut:
    """One case's status by its id (no personal data)."""
    case = await service.get(session, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return CaseOut.model_validate(case)


MAX_IDS = 200


@router.get(
    "/cases",
    response_model=CasePage,
    dependencies=[Depends(list_limit)],
    responses={429: {"description": "too many lookups from this address (Retry-After)"}},
    openapi_extra=public("status only, no personal data; rate-limited"),
)
async def list_cases(
    session: SessionDep,
    complaint_id: Annotated[
        str | None,
        Query(max_length=4000, description="one id, or up to 200 comma-separated (one request for a caller's history)"),
    ] = None,
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
        session,
        complaint_ids=[i.strip() for i in ids],
        tracking_code=tracking_code,
        state=state,
        limit=limit,
        offset=offset,
    )
    return CasePage(items=[CaseOut.model_validate(c) for c in cases], limit=limit, offset=offset)
