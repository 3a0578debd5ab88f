"""Hand-off APIs: the dispatchers' alert list and manual 接警确认, the platform's signed acknowledgement callback,
and the development sink (what it received, and a page to watch it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader

from services.dispatch.auth.service import DispatcherDep
from services.dispatch.handoff import service, signing
from services.dispatch.handoff.config import get_handoff_settings
from services.dispatch.handoff.schemas import (
    AckOut,
    DispatcherAckIn,
    HandoffList,
    HandoffOut,
    PlatformAckIn,
    SinkRecordOut,
)
from shared.app import RuntimeDep, SessionDep
from shared.errors import NotFound, Unauthorized
from shared.validation import AuthFirstRoute

router = APIRouter(route_class=AuthFirstRoute)

_DISPATCHER: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown API key"},
    403: {"description": "not a dispatcher key"},
}
PAGE = Path(__file__).with_name("page.html")
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'"
)

platform_signature = APIKeyHeader(
    name=signing.SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="HandoffPlatformSignature",
    description="The joint 110/119/120/122 platform's callbacks: `sha256=` + hex HMAC-SHA256 of "
    "`{X-Linkage-Timestamp}.{raw body}` under LINKAGE_HANDOFF_WEBHOOK_SECRET.",
)


def adapter_in_use(runtime: RuntimeDep) -> str:
    return get_handoff_settings().resolved_adapter(demo_mode=runtime.settings.demo_mode)


async def signed_by_platform(
    request: Request, signature: Annotated[str | None, Depends(platform_signature)] = None
) -> None:
    settings = get_handoff_settings()
    why = signing.verify(
        settings.handoff_webhook_secret,
        request.headers.get(signing.TIMESTAMP_HEADER),
        signature,
        await request.body(),
        window_s=settings.handoff_callback_window_s,
    )
    if why is not None:
        raise Unauthorized(f"hand-off callback refused: {why}")


@router.get(
    "/api/v1/dispatch/handoffs",
    tags=["dispatcher"],
    response_model=HandoffList,
    responses=_DISPATCHER,
    summary="紧急警情转交: hand-offs to 110/119/120/122 (state=unacknowledged: the workbench alert)",
)
async def list_handoffs(
    session: SessionDep,
    runtime: RuntimeDep,
    who: DispatcherDep,
    state: Literal["unacknowledged", "acknowledged", "all"] = "all",
    case_id: Annotated[str | None, Query(max_length=26)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HandoffList:
    rows, total, unacked = await service.find(session, state=state, case_id=case_id, limit=limit, offset=offset)
    return HandoffList(
        items=[HandoffOut.model_validate(r) for r in rows],
        total=total,
        unacknowledged=unacked,
        adapter=adapter_in_use(runtime),
        limit=limit,
        offset=offset,
    )


@router.get(
    "/api/v1/dispatch/handoffs/sink",
    tags=["dispatcher"],
    response_model=list[SinkRecordOut],
    responses={**_DISPATCHER, 404: {"description": "the development sink is not the transfer adapter in use"}},
    summary="What the development sink received (only when it is the transfer adapter: linkage up, tests)",
)
async def sink(
    session: SessionDep,
    runtime: RuntimeDep,
    who: DispatcherDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SinkRecordOut]:
    if adapter_in_use(runtime) != "sink":
        raise NotFound("the development sink is not in use (LINKAGE_HANDOFF_ADAPTER)")
    return [SinkRecordOut.model_validate(r) for r in await service.sink_records(session, limit=limit)]


@router.post(
    "/api/v1/dispatch/handoffs/{handoff_id}/acknowledge",
    tags=["dispatcher"],
    response_model=AckOut,
    responses={**_DISPATCHER, 404: {"description": "no such hand-off"}},
    summary="接警确认 by phone: the dispatcher confirms the emergency service has the case",
)
async def dispatcher_acknowledge(
    handoff_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    who: DispatcherDep,
    body: DispatcherAckIn | None = None,
) -> AckOut:
    body = body or DispatcherAckIn()
    handoff = await service.get(session, handoff_id, lock=True)
    done = await service.acknowledge(
        session,
        handoff,
        receipt_id=body.receipt_id,
        by=f"{service.center_name(handoff.service)}（电话确认）",
        now=datetime.now(UTC),
        actor=who.actor,
        note=body.note,
    )
    await session.commit()
    runtime.relay.wake()
    return AckOut(status="acknowledged" if done else "already_acknowledged", handoff=HandoffOut.model_validate(handoff))


@router.post(
    "/api/v1/handoffs/{handoff_id}/ack",
    tags=["handoff"],
    response_model=AckOut,
    dependencies=[Depends(signed_by_platform)],
    responses={
        401: {"description": "missing, stale or bad signature"},
        404: {"description": "no such hand-off"},
    },
    summary="The joint platform acknowledges a hand-off (signed callback with its receipt id)",
)
async def platform_acknowledge(
    handoff_id: str, body: PlatformAckIn, session: SessionDep, runtime: RuntimeDep
) -> AckOut:
    handoff = await service.get(session, handoff_id, lock=True)
    center = body.handled_by or service.center_name(handoff.service)
    done = await service.acknowledge(
        session, handoff, receipt_id=body.receipt_id, by=center, now=datetime.now(UTC), note=body.note
    )
    await session.commit()
    runtime.relay.wake()
    return AckOut(status="acknowledged" if done else "already_acknowledged", handoff=HandoffOut.model_validate(handoff))


@router.get("/dev/handoffs", response_class=HTMLResponse, include_in_schema=False)
async def sink_page(runtime: RuntimeDep) -> HTMLResponse:
    """The development sink's page (dispatcher key; 404 unless the sink is the transfer adapter)."""
    if adapter_in_use(runtime) != "sink":
        raise NotFound("the development sink is not in use (LINKAGE_HANDOFF_ADAPTER)")
    return HTMLResponse(
        PAGE.read_text(encoding="utf-8"),
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
