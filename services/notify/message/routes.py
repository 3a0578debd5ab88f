from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from services.notify.config import get_notify_settings
from services.notify.message import service
from services.notify.message.templates import mask_recipient
from shared.app import SessionDep
from shared.errors import NotFound

router = APIRouter(tags=["messages"])


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str | None
    tracking_code: str | None
    channel: str
    recipient: str
    template: str
    body: str
    status: str
    attempts: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime


@router.get("/dev/messages", response_model=list[MessageOut])
async def development_sink(
    session: SessionDep,
    tracking_code: str | None = None,
    case_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """Every SMS / WeChat message / webhook that would have left the system (development only)."""
    if not get_notify_settings().dev_sink_enabled:
        raise NotFound("the development sink is disabled (LINKAGE_DEV_SINK_ENABLED=false)")
    rows = await service.list_messages(session, tracking_code=tracking_code, case_id=case_id, limit=limit)
    return [MessageOut.model_validate(r) for r in rows]


@router.get("/api/v1/deliveries", response_model=list[MessageOut])
async def deliveries(
    session: SessionDep,
    case_id: str | None = None,
    tracking_code: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """Delivery log for operators: phone numbers and openids masked (``138****8000``)."""
    rows = await service.list_messages(session, case_id=case_id, tracking_code=tracking_code, status=status,
                                       limit=limit)
    out = []
    for r in rows:
        item = MessageOut.model_validate(r)
        item.recipient = mask_recipient(r.channel, r.recipient)
        out.append(item)
    return out
