"""Handler API (承办单位): department clients with an ``X-API-Key`` scoped to their department.

A key sees and changes only cases its department leads or co-handles; anything else is 403. The case is
loaded and checked in a dependency (:data:`HandledCase`, :data:`LedCase`), which runs before the body is
validated: another department's case is 403 whatever the body, and no key is 401 (also for a body that is
not JSON, see :class:`shared.validation.AuthFirstRoute`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.dispatch.api import common
from services.dispatch.api.schemas import (
    CaseDetail,
    CaseList,
    ExtensionIn,
    ProgressIn,
    ReplyIn,
    ReportIn,
    ReturnIn,
    TransitionOut,
)
from services.dispatch.auth.service import HandlerDep, Principal
from services.dispatch.case.models import Case
from shared.app import RuntimeDep, SessionDep
from shared.errors import Forbidden
from shared.validation import AuthFirstRoute

router = APIRouter(prefix="/api/v1/handler", tags=["handler"], route_class=AuthFirstRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown API key"},
    403: {"description": "not your department's case"},
    404: {"description": "no such case"},
    409: {"description": "illegal transition: current state and allowed actions"},
    422: {"description": "invalid body (only after the key and the case were accepted)"},
}
_READ_ERRORS = {code: doc for code, doc in _ERRORS.items() if code != 409}  # reading changes no state
_LIST_ERRORS = {code: doc for code, doc in _READ_ERRORS.items() if code != 404}


def _visible(case: Case, who: Principal) -> None:
    if case.lead != who.department and who.department not in (case.co_handlers or []):
        raise Forbidden(f"case {case.id} is not handled by {who.department}", department=who.department)


def _lead(case: Case, who: Principal) -> None:
    _visible(case, who)
    if case.lead != who.department:
        raise Forbidden(f"only the lead handler ({case.lead}) can do this", department=who.department)


async def handled_case(case_id: str, session: SessionDep, who: HandlerDep) -> Case:
    """The case, if the key's department leads or co-handles it (401 / 403 / 404 before any body check)."""
    case = await common.load_case(session, case_id)
    _visible(case, who)
    return case


async def led_case(case_id: str, session: SessionDep, who: HandlerDep) -> Case:
    """The case, if the key's department leads it."""
    case = await common.load_case(session, case_id)
    _lead(case, who)
    return case


HandledCase = Annotated[Case, Depends(handled_case)]
LedCase = Annotated[Case, Depends(led_case)]


@router.get("/cases", response_model=CaseList, responses=_LIST_ERRORS, summary="Inbox: my department's cases")
async def inbox(
    session: SessionDep,
    who: HandlerDep,
    state: str | None = None,
    category: str | None = None,
    street: str | None = None,
    matter_code: str | None = None,
    overdue: bool | None = None,
    role: Annotated[str | None, Query(pattern="^(lead|co)$", description="lead or co-handler only")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CaseList:
    if role == "lead":
        where = [Case.lead == who.department]
    elif role == "co":
        where = [Case.co_handlers.contains([who.department])]
    else:
        where = [common.department_filter(who.department)]
    return await common.list_cases(
        session,
        where=where,
        state=state,
        category=category,
        street=street,
        matter_code=matter_code,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=_READ_ERRORS, summary="Case detail with history")
async def read(case: HandledCase, session: SessionDep) -> CaseDetail:
    return await common.detail(session, case)


@router.post("/cases/{case_id}/sign", response_model=TransitionOut, responses=_ERRORS, summary="签收: sign for")
async def sign(case: LedCase, session: SessionDep, runtime: RuntimeDep, who: HandlerDep) -> TransitionOut:
    return await common.act(session, runtime, case, "sign", actor=who.actor)


@router.post(
    "/cases/{case_id}/return",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="退单: return with a reason, within the return window",
)
async def return_case(
    case: LedCase, body: ReturnIn, session: SessionDep, runtime: RuntimeDep, who: HandlerDep
) -> TransitionOut:
    return await common.act(session, runtime, case, "return", actor=who.actor, reason=body.reason)


@router.post(
    "/cases/{case_id}/progress",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="Report progress (lead or co-handler)",
)
async def progress(
    case: HandledCase, body: ProgressIn, session: SessionDep, runtime: RuntimeDep, who: HandlerDep
) -> TransitionOut:
    return await common.act(
        session,
        runtime,
        case,
        "progress",
        actor=who.actor,
        note=body.note,
        department=who.department,
        attachments=[a.model_dump() for a in body.attachments],
    )


@router.post(
    "/cases/{case_id}/extension",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="延期: request an extension (once, at most 10 working days)",
)
async def extension(
    case: LedCase, body: ExtensionIn, session: SessionDep, runtime: RuntimeDep, who: HandlerDep
) -> TransitionOut:
    return await common.act(
        session, runtime, case, "request_extension", actor=who.actor, reason=body.reason, days=body.days
    )


@router.post(
    "/cases/{case_id}/reply",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="办结: reply with the result and attachments (URLs)",
)
async def reply(
    case: LedCase, body: ReplyIn, session: SessionDep, runtime: RuntimeDep, who: HandlerDep
) -> TransitionOut:
    return await common.act(
        session,
        runtime,
        case,
        "reply",
        actor=who.actor,
        text=body.text,
        attachments=[a.model_dump() for a in body.attachments],
    )


@router.post(
    "/cases/{case_id}/report",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="吹哨报到: a convened department reports to the case",
)
async def report(
    case: HandledCase, body: ReportIn, session: SessionDep, runtime: RuntimeDep, who: HandlerDep
) -> TransitionOut:
    return await common.act(
        session, runtime, case, "report", actor=who.actor, department=who.department, note=body.note
    )
