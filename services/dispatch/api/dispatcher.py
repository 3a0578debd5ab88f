"""Dispatcher API (派单员, 大联动中心): triage, dispatch, approvals, reassign, arbitrate, urge, supervise,
merge, whistle, survey, close. Dispatcher or admin keys only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.dispatch.api import common
from services.dispatch.api.schemas import (
    ApproveExtensionIn,
    ArbitrateIn,
    ArbitrationOut,
    CaseDetail,
    CaseList,
    CorrectIn,
    DispatchIn,
    MergeIn,
    ReasonIn,
    ResponsibilityQuote,
    SurveyIn,
    TransitionOut,
    VerifyIn,
    WhistleIn,
)
from services.dispatch.auth.service import DispatcherDep
from services.dispatch.case import corrections, flows
from services.dispatch.case.models import Case
from shared.app import RuntimeDep, SessionDep
from shared.errors import InvalidInput
from shared.validation import AuthFirstRoute

router = APIRouter(prefix="/api/v1/dispatch", tags=["dispatcher"], route_class=AuthFirstRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown API key"},
    403: {"description": "not a dispatcher key"},
    409: {"description": "illegal transition: current state and allowed actions"},
}
_READ_ERRORS = {code: doc for code, doc in _ERRORS.items() if code != 409}  # reading changes no state
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/triage", response_model=CaseList, responses=_READ_ERRORS, summary="The triage queue (待派单)")
async def triage(
    session: SessionDep,
    who: DispatcherDep,
    category: str | None = None,
    street: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> CaseList:
    return await common.list_cases(
        session,
        where=[],
        state="triage",
        category=category,
        street=street,
        matter_code=None,
        overdue=None,
        limit=limit,
        offset=offset,
    )


@router.get("/cases", response_model=CaseList, responses=_READ_ERRORS, summary="All cases, filterable")
async def cases(
    session: SessionDep,
    who: DispatcherDep,
    state: str | None = None,
    lead: str | None = None,
    category: str | None = None,
    street: str | None = None,
    matter_code: str | None = None,
    overdue: bool | None = None,
    tracking_code: str | None = None,
    complaint_id: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> CaseList:
    where = []
    if lead:
        where.append(Case.lead == lead)
    if tracking_code:
        where.append(Case.tracking_code == tracking_code)
    if complaint_id:
        where.append(Case.complaint_id == complaint_id)
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


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=_READ_ERRORS)
async def read(case_id: str, session: SessionDep, who: DispatcherDep) -> CaseDetail:
    return await common.detail(session, await common.load_case(session, case_id))


@router.get(
    "/cases/{case_id}/arbitration",
    response_model=ArbitrationOut,
    responses=_READ_ERRORS,
    summary="职责裁定: the catalog's responsibility entries for this case",
)
async def arbitration(
    case_id: str, session: SessionDep, who: DispatcherDep, departments: Annotated[list[str] | None, Query()] = None
) -> ArbitrationOut:
    case = await common.load_case(session, case_id)
    candidates = departments or [d for d in [case.lead, *case.co_handlers] if d]
    quotes = flows.responsibility_quotes(case, candidates)
    return ArbitrationOut(
        case_id=case.id, matter_code=case.matter_code, lead=case.lead, quotes=[ResponsibilityQuote(**q) for q in quotes]
    )


@router.post("/cases/{case_id}/dispatch", response_model=TransitionOut, responses=_ERRORS, summary="派单")
async def dispatch(
    case_id: str, body: DispatchIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    return await _route(session, runtime, case_id, "dispatch", body, who.actor)


@router.post("/cases/{case_id}/reassign", response_model=TransitionOut, responses=_ERRORS, summary="改派")
async def reassign(
    case_id: str, body: DispatchIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    return await _route(session, runtime, case_id, "reassign", body, who.actor)


async def _route(
    session: SessionDep, runtime: RuntimeDep, case_id: str, action: str, body: DispatchIn, actor: str
) -> TransitionOut:
    common.check_department(body.lead)
    for code in body.co_handlers:
        common.check_department(code, "co_handlers")
    if body.matter_code and flows.default_catalog().get_matter(body.matter_code) is None:
        raise InvalidInput(f"unknown matter {body.matter_code!r}", field="matter_code")
    case = await common.load_case(session, case_id)
    return await common.act(
        session,
        runtime,
        case,
        action,
        actor=actor,
        reason=body.reason,
        lead=body.lead,
        co_handlers=body.co_handlers,
        matter_code=body.matter_code,
    )


@router.post(
    "/cases/{case_id}/arbitrate",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="职责裁定: rule which department is responsible (the responsibility text is quoted)",
)
async def arbitrate(
    case_id: str, body: ArbitrateIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    common.check_department(body.lead)
    case = await common.load_case(session, case_id)
    disputed = [d for d in {body.lead, case.lead} if d]
    quotes = flows.responsibility_quotes(case, sorted(disputed))
    return await common.act(
        session,
        runtime,
        case,
        "arbitrate",
        actor=who.actor,
        reason=body.reason,
        lead=body.lead,
        matter_code=body.matter_code,
        responsibility=quotes,
    )


def _simple(action: str, summary: str) -> None:
    @router.post(
        f"/cases/{{case_id}}/{action.replace('_', '-')}",
        response_model=TransitionOut,
        responses=_ERRORS,
        summary=summary,
        name=action,
    )
    async def endpoint(
        case_id: str, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep, body: ReasonIn | None = None
    ) -> TransitionOut:
        case = await common.load_case(session, case_id)
        return await common.act(session, runtime, case, action, actor=who.actor, reason=body.reason if body else None)


for _action, _summary in (
    ("approve_return", "退单审核: approve the return (the case goes back to triage for reassign/arbitrate)"),
    ("deny_return", "退单审核: deny the return (the handler keeps the case)"),
    ("deny_extension", "延期审核: deny"),
    ("urge", "催办"),
    ("supervise", "督办"),
    ("suspend", "挂起: stop the clock"),
    ("resume", "resume: the deadline moves by the suspended working time"),
    ("reopen", "重办"),
    ("close", "结案"),
    ("unmerge", "取消并单: a merged case is handled on its own again (back to triage)"),
):
    _simple(_action, _summary)


@router.post(
    "/cases/{case_id}/approve-extension",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="延期审核: approve (default: the requested days, at most 10)",
)
async def approve_extension(
    case_id: str, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep, body: ApproveExtensionIn | None = None
) -> TransitionOut:
    case = await common.load_case(session, case_id)
    extra = {"days": body.days} if body and body.days else {}
    return await common.act(
        session, runtime, case, "approve_extension", actor=who.actor, reason=body.reason if body else None, **extra
    )


@router.post(
    "/cases/{case_id}/merge",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="并单: merge into a master case (the citizen follows the master)",
)
async def merge(
    case_id: str, body: MergeIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    if body.master_id == case_id:
        raise InvalidInput("a case cannot be merged into itself", field="master_id")
    master = await common.load_case(session, body.master_id)
    if master.state in ("closed", "transferred", "merged"):
        raise InvalidInput(f"master case is {master.state}", field="master_id")
    case = await common.load_case(session, case_id)
    return await common.act(
        session,
        runtime,
        case,
        "merge",
        actor=who.actor,
        reason=body.reason,
        master_id=master.id,
        master_tracking_code=master.tracking_code,
    )


@router.post(
    "/cases/{case_id}/correct",
    response_model=TransitionOut,
    responses={**_ERRORS, 422: {"description": "unknown kind, matter, category or emergency; or no change"}},
    summary="更正分类: correct the kind / matter / category / emergency label (kept for retraining)",
)
async def correct(
    case_id: str, body: CorrectIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    case = await common.load_case(session, case_id)
    entry = await corrections.correct(
        session,
        case,
        actor=who.actor,
        kind=body.kind,
        matter_code=body.matter_code,
        category=body.category,
        emergency=body.emergency,
        reason=body.reason,
    )
    await session.commit()
    runtime.relay.wake()
    return TransitionOut(case=await common.detail(session, case), entry=common.HistoryEntryOut.model_validate(entry))


@router.post(
    "/cases/{case_id}/whistle",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="吹哨: convene departments that must report within 30 minutes",
)
async def whistle(
    case_id: str, body: WhistleIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    for code in body.departments:
        common.check_department(code, "departments")
    case = await common.load_case(session, case_id)
    return await common.act(
        session, runtime, case, "whistle", actor=who.actor, reason=body.reason, departments=body.departments
    )


@router.post(
    "/cases/{case_id}/verify",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="核查: grid worker's verification of a grid-found case (failed → 重办)",
)
async def verify(
    case_id: str, body: VerifyIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    case = await common.load_case(session, case_id)
    return await common.act(session, runtime, case, "verify", actor=who.actor, reason=body.note, passed=body.passed)


@router.post(
    "/cases/{case_id}/survey",
    response_model=TransitionOut,
    responses=_ERRORS,
    summary="回访结果: 满意/基本满意/未评价 → closed; 不满意 → reopen once, then supervise and close",
)
async def survey(
    case_id: str, body: SurveyIn, session: SessionDep, runtime: RuntimeDep, who: DispatcherDep
) -> TransitionOut:
    case = await common.load_case(session, case_id)
    entries = await flows.apply_survey(
        session, case, body.result, actor=who.actor, comment=body.comment, solved=body.solved
    )
    await session.commit()
    runtime.relay.wake()
    return TransitionOut(
        case=await common.detail(session, case), entry=common.HistoryEntryOut.model_validate(entries[-1])
    )
