"""Hotline operator extras: caller history, duplicate candidates, knowledge-base answers for 咨询.

Every endpoint needs an operator credential; caller history (personal data) also accepts a dispatcher key.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.intake.channels.hotline import service
from services.intake.channels.hotline.schemas import (
    PHONE_PATTERN,
    AddressAnswer,
    CallerHistory,
    DuplicateAnswer,
    DuplicateQuery,
    KnowledgeAnswers,
    KnowledgeQuery,
)
from services.intake.operators.auth import AUTH_RESPONSES, STAFF_RESPONSES, OperatorDep, StaffDep
from shared.app import RuntimeDep, SessionDep
from shared.validation import AuthFirstRoute

router = APIRouter(  # 401/403 before 422
    prefix="/api/v1/hotline", tags=["hotline"], route_class=AuthFirstRoute
)


@router.get("/callers/{phone}/history", response_model=CallerHistory, responses=STAFF_RESPONSES)
async def caller_history(
    caller: StaffDep,
    phone: Annotated[str, Path(pattern=PHONE_PATTERN, description="caller number, digits")],
    session: SessionDep,
    runtime: RuntimeDep,
) -> CallerHistory:
    """来电历史: this number's earlier complaints with their case status (``unknown`` if dispatch is away)."""
    return await service.caller_history(session, runtime.settings, phone)


@router.post("/duplicates", response_model=DuplicateAnswer, responses=AUTH_RESPONSES)
async def duplicates(caller: OperatorDep, body: DuplicateQuery, session: SessionDep) -> DuplicateAnswer:
    """疑似重复: same category near the same place (same grid or within ``radius_m``) in the last ``days`` days."""
    return await service.duplicate_candidates(session, body)


@router.post("/knowledge", response_model=KnowledgeAnswers, responses=AUTH_RESPONSES)
async def knowledge(caller: OperatorDep, body: KnowledgeQuery) -> KnowledgeAnswers:
    """知识库: answers the operator can read out on the spot for a 咨询 (直接办结)."""
    return await asyncio.to_thread(service.knowledge_answers, body)


@router.get("/address", response_model=AddressAnswer, responses=AUTH_RESPONSES)
async def resolve_address(
    caller: OperatorDep,
    q: Annotated[str, Query(min_length=1, max_length=300, description="spoken address")],
) -> AddressAnswer:
    """地址核实: the gazetteer's reading of an address (resolved → grid; ambiguous → candidates; unresolved)."""
    return await asyncio.to_thread(service.resolve_address, q)
