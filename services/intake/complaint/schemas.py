"""Request and response shapes for complaints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.events.complaints import Attachment, Channel, EmergencyFlag, GeoPoint, Kind, PlaceRef, Reporter
from shared.validation import CleanStr, NoControlChars

MAX_TEXT = 4000
# constraints before the control-character check, so their messages stay specific ("at least 1 character")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT), NoControlChars]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9\-]{2,19}$")]


class ComplaintDraft(BaseModel):
    """A channel-independent complaint before it is stored (what every channel builds)."""

    channel: Channel
    channel_key: Annotated[str, StringConstraints(min_length=1, max_length=128), NoControlChars]
    text: Text
    kind: Kind | None = None
    address: CleanStr | None = Field(default=None, max_length=300)
    location: GeoPoint | None = None
    place: PlaceRef | None = None
    address_status: Literal["resolved", "ambiguous", "unresolved", "none"] = "none"
    reporter: Reporter = Field(default_factory=Reporter)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    matter_code: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=4)
    suggestions: list[dict[str, Any]] = Field(default_factory=list)
    emergency: EmergencyFlag | None = None
    solved_on_spot: bool = False
    outside_own_grid: bool = False
    operator_id: CleanStr | None = Field(default=None, max_length=64)
    received_at: datetime | None = None
    traceparent: str | None = Field(
        default=None,
        exclude=True,
        description="the request's trace, when the complaint is stored outside the request (group commit)",
    )


class HotlineComplaintIn(BaseModel):
    """12345 operator ticket, typed while talking to the caller."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "call_id": "CALL-20261124-0001",
                    "caller_phone": "13800138000",
                    "text": "建设路12号门口的井盖坏了，晚上很危险",
                    "address": "成华区建设路12号",
                    "kind": "投诉",
                    "operator_id": "op-007",
                }
            ]
        },
    )

    call_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoControlChars]
    caller_phone: Phone
    caller_name: CleanStr | None = Field(default=None, max_length=50)
    text: Text
    address: CleanStr | None = Field(default=None, max_length=300)
    kind: Kind | None = None
    matter_code: str | None = Field(default=None, max_length=16)
    operator_id: CleanStr | None = Field(default=None, max_length=64)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class ComplaintOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tracking_code: str
    channel: str
    kind: str
    text: str
    address: str | None
    address_status: str
    street_code: str | None
    community_code: str | None
    grid_code: str | None
    category: str | None
    matter_code: str | None
    suggestions: list[dict[str, Any]]
    emergency: dict[str, Any] | None
    received_at: datetime
    created: bool = True
    tracking_secret: str | None = Field(
        default=None,
        description="查询密码: shown once, when the complaint is created (null on a replay and on reads); "
        "with the tracking code it lets the citizen look up their complaint",
    )
