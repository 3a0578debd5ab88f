"""Shared pieces of the dispatch APIs: loading, listing, detail, transition + commit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.api.schemas import CaseDetail, CaseList, HistoryEntryOut, TimeTagOut, TransitionOut
from services.dispatch.case import flows
from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.sla.timers import yellow_at
from services.dispatch.sla.timetag import time_tag
from shared.app import ServiceRuntime
from shared.catalog import default_catalog
from shared.errors import InvalidInput, NotFound


async def load_case(session: AsyncSession, case_id: str) -> Case:
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def check_department(code: str, field: str = "lead") -> str:
    if default_catalog().get_department(code) is None:
        raise InvalidInput(f"unknown department {code!r}", field=field)
    return code


async def history_of(session: AsyncSession, case_id: str, public_only: bool = False) -> list[CaseHistory]:
    stmt = select(CaseHistory).where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq)
    if public_only:
        stmt = stmt.where(CaseHistory.public.is_(True))
    return list((await session.execute(stmt)).scalars())


async def detail(session: AsyncSession, case: Case, with_history: bool = True) -> CaseDetail:
    out = CaseDetail.model_validate(case, from_attributes=True)
    out.allowed_actions = flows.allowed_actions(case)
    if case.deadline_at is not None:
        out.warning_at = yellow_at(case.received_at, case.deadline_at)
    tag = time_tag(state=case.state, deadline_at=case.deadline_at, warning_at=out.warning_at)
    out.time_tag = TimeTagOut.model_validate(tag, from_attributes=True)
    if with_history:
        out.history = [HistoryEntryOut.model_validate(h) for h in await history_of(session, case.id)]
    return out


def department_filter(department: str) -> ColumnElement[bool]:
    """Cases a department handles: as lead or as co-handler (协办, 吹哨)."""
    return or_(Case.lead == department, Case.co_handlers.contains([department]))


async def list_cases(
    session: AsyncSession,
    *,
    where: list[ColumnElement[bool]],
    state: str | None,
    category: str | None,
    street: str | None,
    matter_code: str | None,
    overdue: bool | None,
    limit: int,
    offset: int,
) -> CaseList:
    conditions = list(where)
    if state:
        conditions.append(Case.state == state)
    if category:
        conditions.append(Case.category == category)
    if street:
        conditions.append(Case.street_code == street)
    if matter_code:
        conditions.append(Case.matter_code == matter_code)
    if overdue is not None:
        now = datetime.now(UTC)
        late = Case.deadline_at < now
        conditions.append(late if overdue else or_(Case.deadline_at.is_(None), Case.deadline_at >= now))
    total = (await session.execute(select(func.count()).select_from(Case).where(*conditions))).scalar_one()
    rows = (
        await session.execute(
            select(Case).where(*conditions).order_by(Case.received_at.desc(), Case.id).limit(limit).offset(offset)
        )
    ).scalars()
    items = [await detail(session, c, with_history=False) for c in rows]
    return CaseList(items=items, total=int(total), limit=limit, offset=offset)


async def act(
    session: AsyncSession,
    runtime: ServiceRuntime,
    case: Case,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    **details: Any,
) -> TransitionOut:
    """One transition in its own transaction, then wake the outbox relay."""
    entry = await flows.transition(session, case, action, actor=actor, reason=reason, **details)
    await session.commit()
    runtime.relay.wake()
    return TransitionOut(case=await detail(session, case), entry=HistoryEntryOut.model_validate(entry))
