"""Shapes of the demo history import (``linkage up --demo-history``): cases with past timestamps and their steps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from shared.events.complaints import Channel, Kind


def _aware(v: datetime, info: ValidationInfo) -> datetime:
    if v.tzinfo is None:
        raise ValueError(f"{info.field_name} needs a time zone")
    return v


AwareTime = Annotated[datetime, AfterValidator(_aware)]

StepAction = Literal[
    "dispatch",
    "sign",
    "progress",
    "return",
    "approve_return",
    "reassign",
    "request_extension",
    "approve_extension",
    "reply",
    "survey",
    "verify",
    "urge",
    "supervise",
    "close",
]


class DemoComplaintIn(BaseModel):
    """What intake would have published, received in the past (no personal data: demo cases have no reporter)."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    kind: Kind = "投诉"
    text: str = Field(min_length=1, max_length=4000)
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    street_code: str | None = Field(default=None, max_length=20)
    community_code: str | None = Field(default=None, max_length=20)
    grid_code: str | None = Field(default=None, max_length=20)
    matter_code: str | None = Field(default=None, max_length=16)
    emergency_service: Literal["110", "119", "120", "122"] | None = None
    solved_on_spot: bool = False
    received_at: AwareTime


class DemoStepIn(BaseModel):
    """One later action on the case, at a past time (who does it follows from the action and the case's lead)."""

    model_config = ConfigDict(extra="forbid")

    action: StepAction
    at: AwareTime
    lead: str | None = Field(default=None, max_length=20, description="dispatch / reassign: the department")
    text: str | None = Field(default=None, max_length=4000, description="reply / progress text")
    reason: str | None = Field(default=None, max_length=500)
    result: Literal["满意", "基本满意", "不满意", "未评价"] | None = Field(default=None, description="survey")
    days: int | None = Field(default=None, ge=1, le=10, description="request_extension")
    passed: bool | None = Field(default=None, description="verify")


class DemoCaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    complaint: DemoComplaintIn
    steps: list[DemoStepIn] = Field(default_factory=list, max_length=30)


class DemoHistoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[DemoCaseIn] = Field(min_length=1, max_length=500)


class DemoHistoryOut(BaseModel):
    cases: int = Field(description="cases created")
    steps: int = Field(description="steps applied")
    stopped: int = Field(description="cases whose script stopped early (e.g. merged into a duplicate: 并单)")
    states: dict[str, int] = Field(description="cases by their state after the import")
