"""``POST /api/v1/dispatch/demo/history``: the demo history import (admin key, demo mode only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.dispatch.auth.service import Principal, principal
from services.dispatch.demo import service
from services.dispatch.demo.schemas import DemoHistoryIn, DemoHistoryOut
from shared.app import RuntimeDep, SessionDep
from shared.errors import Forbidden, NotFound
from shared.validation import AuthFirstRoute

router = APIRouter(prefix="/api/v1/dispatch/demo", tags=["demo"], route_class=AuthFirstRoute)


async def demo_admin(runtime: RuntimeDep, who: Annotated[Principal, Depends(principal)]) -> Principal:
    if who.role != "admin":
        raise Forbidden("this endpoint is for admin keys", role=who.role)
    if not runtime.settings.demo_mode:
        raise NotFound("the demo history import exists only in demo mode (LINKAGE_DEMO_MODE)")
    return who


@router.post(
    "/history",
    response_model=DemoHistoryOut,
    responses={
        401: {"description": "missing or unknown API key"},
        403: {"description": "not an admin key"},
        404: {"description": "not in demo mode"},
        422: {"description": "a time in the future, out of order, or older than a year"},
    },
    summary="Demo mode only: import cases received in the past, played through the flows at their own times",
)
async def import_history(
    body: DemoHistoryIn, session: SessionDep, runtime: RuntimeDep, who: Annotated[Principal, Depends(demo_admin)]
) -> DemoHistoryOut:
    out = await service.import_history(session, body.cases)
    await session.commit()
    runtime.relay.wake()
    return out
