"""Shapes of the hand-off APIs (dispatcher alert list, manual and platform acknowledgements, the sink)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from services.dispatch.handoff.service import STATE_NAMES, alert_name, center_name
from shared.validation import CleanStr


class HandoffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    tracking_code: str
    service: str
    state: str
    adapter: str | None
    alert_level: int
    escalations: int
    attempts: int
    last_error: str | None
    reason: str | None
    transferred_at: datetime
    sent_at: datetime | None
    ack_due_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    receipt_id: str | None

    @computed_field(description="where the case went, in Chinese (110指挥中心 …)")  # type: ignore[prop-decorator]
    @property
    def center(self) -> str:
        return center_name(self.service)

    @computed_field(description="the state in Chinese")  # type: ignore[prop-decorator]
    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, self.state)

    @computed_field(description="the alert level in Chinese (一级 … 三级)")  # type: ignore[prop-decorator]
    @property
    def alert_name(self) -> str:
        return alert_name(self.alert_level)

    @computed_field(description="unacknowledged and past the time an acknowledgement was expected")  # type: ignore[prop-decorator]
    @property
    def overdue(self) -> bool:
        return self.acknowledged_at is None and self.ack_due_at <= datetime.now(UTC)

    @computed_field(description="one line for the dispatcher, in Chinese")  # type: ignore[prop-decorator]
    @property
    def status_text(self) -> str:
        center = center_name(self.service)
        if self.acknowledged_at is not None:
            return f"{self.acknowledged_by or center}已确认接警"
        if self.adapter == "none" or (self.last_error or "").startswith("no transfer adapter"):
            return f"未配置转交通道，请立即电话通知{center}"
        if self.state == "pending" and self.attempts and self.last_error:
            return f"推送{center}失败{self.attempts}次，正在重试，请电话核实"
        if self.state == "pending":
            return f"正在推送至{center}"
        return f"已推送至{center}，等待接警确认"


class HandoffList(BaseModel):
    items: list[HandoffOut]
    total: int
    unacknowledged: int = Field(description="hand-offs awaiting their acknowledgement (all of them, not this page)")
    adapter: str = Field(description="the transfer adapter in use: webhook | sink | none")
    limit: int
    offset: int


class DispatcherAckIn(BaseModel):
    """A dispatcher confirms by phone that the emergency service has the case (接警确认)."""

    note: CleanStr | None = Field(default=None, max_length=500, description="e.g. 已电话确认，接警员工号 1024")
    receipt_id: CleanStr | None = Field(default=None, max_length=100, description="the service's incident number")


class PlatformAckIn(BaseModel):
    """The joint platform's acknowledgement callback (signed)."""

    model_config = ConfigDict(extra="ignore")

    receipt_id: str = Field(min_length=1, max_length=100, description="the platform's incident / receipt number")
    handled_by: str | None = Field(default=None, max_length=120, description="which center took it")
    note: str | None = Field(default=None, max_length=500)


class AckOut(BaseModel):
    status: Literal["acknowledged", "already_acknowledged"]
    handoff: HandoffOut


class SinkRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    handoff_id: str
    case_id: str
    service: str
    receipt_id: str
    received_at: datetime
    ack_at: datetime
    acknowledged_at: datetime | None
    document: dict[str, Any]
