"""Events published by intake on ``linkage.intake.complaints.v1`` (key: complaint id)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.events.registry import EventPayload, register_event

Channel = Literal["hotline", "wechat", "app", "grid", "open311"]
Kind = Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"]


class GeoPoint(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    source: str = "unknown"  # gps, wechat-gcj02, gazetteer, operator, open311


class PlaceRef(BaseModel):
    street_code: str | None = None
    street_name: str | None = None
    community_code: str | None = None
    community_name: str | None = None
    grid_code: str | None = None
    grid_name: str | None = None
    outside_district: bool = False  # the given point lies outside the district's polygons: no grid, no 属地
    note: str | None = None  # why the place is incomplete, for people (e.g. "坐标不在本区范围内")


class Reporter(BaseModel):
    """Personal data: never shown on open data or the big screen."""

    name: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    user_id: str | None = None
    anonymous: bool = False


class Attachment(BaseModel):
    url: str
    content_type: str | None = None
    sha256: str | None = None
    size: int | None = None


class CategorySuggestion(BaseModel):
    """One of the classifier's top-3 categories with its best matter, best first. ``confidence`` is the matter's
    (category probability x the matter's share of it); the optional fields came later (absent in older events)."""

    category: str
    matter_code: str | None = None
    confidence: float = Field(ge=0, le=1)
    matter_name: str | None = None
    category_confidence: float | None = Field(default=None, ge=0, le=1)
    auto_route: bool | None = Field(
        default=None, description="on the first suggestion: the classifier is sure enough to route without a person"
    )


class EmergencyFlag(BaseModel):
    service: Literal["110", "119", "120", "122"]
    reason: str = ""


@register_event
class ComplaintReceivedV1(EventPayload):
    event_type = "cn.linkage.complaint.received.v1"

    complaint_id: str
    tracking_code: str
    channel: Channel
    channel_key: str
    kind: Kind = "投诉"
    text: str
    address: str | None = None
    address_status: Literal["resolved", "ambiguous", "unresolved", "none"] = "none"
    location: GeoPoint | None = None
    place: PlaceRef | None = None
    reporter: Reporter = Field(default_factory=Reporter)
    attachments: list[Attachment] = Field(default_factory=list)
    suggestions: list[CategorySuggestion] = Field(default_factory=list)
    matter_code: str | None = None
    emergency: EmergencyFlag | None = None
    solved_on_spot: bool = False
    outside_own_grid: bool = False
    received_at: datetime
    operator_id: str | None = None


@register_event
class ComplaintSupplementedV1(EventPayload):
    """A later photo, location or text for the same complaint."""

    event_type = "cn.linkage.complaint.supplemented.v1"

    complaint_id: str
    tracking_code: str
    text: str | None = None
    location: GeoPoint | None = None
    place: PlaceRef | None = None
    address: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    supplemented_at: datetime
