from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from services.notify.message import service
from shared.app import SessionDep

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
    created_at: datetime


@router.get("/dev/messages", response_model=list[MessageOut])
async def development_sink(
    session: SessionDep,
    tracking_code: str | None = None,
    case_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """Every SMS / WeChat message / webhook that would have left the system."""
    rows = await service.list_messages(session, tracking_code=tracking_code, case_id=case_id, limit=limit)
    return [MessageOut.model_validate(r) for r in rows]


@router.get("/api/v1/deliveries", response_model=list[MessageOut])
async def deliveries(
    session: SessionDep, case_id: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[MessageOut]:
    rows = await service.list_messages(session, case_id=case_id, limit=limit)
    return [MessageOut.model_validate(r) for r in rows]
