"""Shapes of the citizen app and grid patrol APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.intake.complaint.schemas import MAX_TEXT, Phone
from shared.events.complaints import Kind

OptText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT)]


class _Point(BaseModel):
    lon: float | None = Field(default=None, ge=-180, le=180, description="WGS-84 longitude (GPS)")
    lat: float | None = Field(default=None, ge=-90, le=90, description="WGS-84 latitude (GPS)")

    @model_validator(mode="after")
    def _both_or_none(self) -> _Point:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat go together")
        return self


class AppComplaintIn(_Point):
    """Citizen app: ``type`` complaint (default), snapshot (随手拍/我要爆料) or errand (我要代办)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "client_request_id": "4f1c2b1e-8d1a-4a57-9c55-0d8f0c1e2a11",
                    "type": "complaint",
                    "text": "小区门口路灯坏了一个星期，晚上很黑",
                    "lon": 104.1035,
                    "lat": 30.6752,
                    "phone": "13800138000",
                }
            ]
        },
    )

    client_request_id: str | None = Field(default=None, max_length=100)
    type: Literal["complaint", "snapshot", "errand"] = "complaint"
    text: OptText = ""
    kind: Kind | None = None
    address: str | None = Field(default=None, max_length=300)
    name: str | None = Field(default=None, max_length=50)
    phone: Phone | None = None
    user_id: str | None = Field(default=None, max_length=64)
    anonymous: bool = False


class GridReportIn(_Point):
    """Grid worker report (入格事项): a catalog matter, what was seen, where, and whether it was solved."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "client_request_id": "pad-7-000123",
                    "matter_code": "CG001",
                    "text": "建设路口有流动摊贩占道经营",
                    "lon": 104.1035,
                    "lat": 30.6752,
                    "solved_on_spot": True,
                }
            ]
        },
    )

    client_request_id: str | None = Field(default=None, max_length=100)
    matter_code: str = Field(min_length=1, max_length=16)
    text: OptText = ""
    kind: Kind | None = None
    address: str | None = Field(default=None, max_length=300)
    solved_on_spot: bool = False


class PhotoOut(BaseModel):
    sha256: str
    url: str
    content_type: str
    size: int


class ChannelComplaintOut(BaseModel):
    id: str
    tracking_code: str
    channel: str
    type: str
    kind: str
    text: str
    category: str | None
    matter_code: str | None
    street_code: str | None
    community_code: str | None
    grid_code: str | None
    location: dict[str, Any] | None
    photos: list[PhotoOut] = Field(default_factory=list)
    errand: bool = False
    solved_on_spot: bool = False
    outside_own_grid: bool = False
    outside_district: bool = Field(
        default=False, description="the point lies outside the district's map: no grid, the case goes to triage"
    )
    place_note: str | None = Field(default=None, description="why the place is incomplete (坐标不在本区范围内)")
    address: str | None = Field(default=None, description="the address given, or the one read from the text")
    address_status: str = Field(default="none", description="resolved | ambiguous | unresolved | none")
    received_at: datetime
    created: bool = True
    tracking_secret: str | None = Field(
        default=None,
        description="查询密码: returned once, when a citizen's complaint is created (null on a replay); "
        "``GET /api/v1/app/complaints/{tracking_code}`` needs it (or the phone's last four digits)",
    )


class CitizenStatusOut(BaseModel):
    tracking_code: str
    status: str
    status_text: str
    channel: str
    kind: str
    text: str
    category: str | None
    grid_code: str | None
    has_location: bool
    attachments: list[dict[str, Any]]
    received_at: datetime
    track_url: str
