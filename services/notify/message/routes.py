"""The development sink (``/dev/messages``, off unless ``LINKAGE_DEV_SINK_ENABLED``) and the delivery log
(``/api/v1/deliveries``, dispatcher/admin keys only: message bodies carry survey links and case details)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from services.notify.config import NotifySettings, get_notify_settings
from services.notify.message import service
from services.notify.message.auth import AUTH_RESPONSES, StaffDep
from services.notify.message.templates import mask_recipient
from shared.access import public
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


def dev_sink_enabled(request: Request) -> None:
    """404 unless the development sink is switched on (``linkage up`` and the test stack do)."""
    nsettings = getattr(request.app.state, "notify_settings", None)
    if not isinstance(nsettings, NotifySettings):
        nsettings = get_notify_settings()
    if not nsettings.dev_sink_enabled:
        raise NotFound("the development sink is disabled (LINKAGE_DEV_SINK_ENABLED=false)")


# a survey link's token in a message body: whoever reads the log must not be able to answer for the citizen
_SURVEY_TOKEN = re.compile(r"(/survey/|/api/v1/surveys/)([A-Za-z0-9_-]{4})[A-Za-z0-9_-]+")


def mask_survey_links(body: str) -> str:
    return _SURVEY_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}****", body)


@router.get(
    "/dev/messages",
    response_model=list[MessageOut],
    dependencies=[Depends(dev_sink_enabled)],
    responses={404: {"description": "the development sink is disabled"}},
    openapi_extra=public("development sink: 404 unless LINKAGE_DEV_SINK_ENABLED (linkage up, tests)"),
)
async def development_sink(
    session: SessionDep,
    tracking_code: str | None = None,
    case_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """Every SMS / WeChat message / webhook that would have left the system, in full (development only:
    404 unless ``LINKAGE_DEV_SINK_ENABLED=true``)."""
    rows = await service.list_messages(session, tracking_code=tracking_code, case_id=case_id, limit=limit)
    return [MessageOut.model_validate(r) for r in rows]


@router.get("/api/v1/deliveries", response_model=list[MessageOut], responses=AUTH_RESPONSES)
async def deliveries(
    who: StaffDep,
    session: SessionDep,
    case_id: str | None = None,
    tracking_code: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """Delivery log for dispatchers and admins (``X-API-Key`` of dispatch): phone numbers and openids masked
    (``138****8000``), survey link tokens masked."""
    rows = await service.list_messages(
        session, case_id=case_id, tracking_code=tracking_code, status=status, limit=limit
    )
    out = []
    for r in rows:
        item = MessageOut.model_validate(r)
        item.recipient = mask_recipient(r.channel, r.recipient)
        item.body = mask_survey_links(item.body)
        out.append(item)
    return out
