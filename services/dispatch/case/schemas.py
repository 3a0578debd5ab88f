from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CaseOut(BaseModel):
    """A case's status for other services and for whoever holds its complaint id or tracking code:
    no text, address, coordinates or reporter (the keyed handler/dispatcher APIs show those)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tracking_code: str
    complaint_id: str
    state: str
    channel: str
    kind: str
    street_code: str | None
    community_code: str | None
    grid_code: str | None
    category: str | None
    matter_code: str | None
    lead: str | None
    co_handlers: list[str]
    received_at: datetime
    deadline_at: datetime | None
    deadline_provisional: bool
    created_at: datetime


class CasePage(BaseModel):
    items: list[CaseOut]
    limit: int
    offset: int
