"""Request and response shapes of the handler, dispatcher and tracking APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from services.dispatch.case import history
from services.dispatch.case.schemas import CaseOut


class AttachmentIn(BaseModel):
    url: str = Field(min_length=4, max_length=2000, pattern=r"^https?://")
    name: str | None = Field(default=None, max_length=200)
    content_type: str | None = Field(default=None, max_length=100)


class ReasonIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class ReturnIn(BaseModel):
    reason: str = Field(min_length=2, max_length=2000, description="退单理由 (required)")


class ProgressIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class ExtensionIn(BaseModel):
    days: int = Field(ge=1, le=10, description="extra working days (at most 10, once per case)")
    reason: str = Field(min_length=2, max_length=2000)


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=8000, description="办结 reply shown to the citizen")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class ReportIn(BaseModel):
    note: str = Field(default="", max_length=4000)


class DispatchIn(BaseModel):
    lead: str = Field(min_length=2, max_length=20, description="department code of the lead handler (主办)")
    co_handlers: list[str] = Field(default_factory=list, max_length=10)
    matter_code: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=2000)


class ArbitrateIn(BaseModel):
    lead: str = Field(min_length=2, max_length=20, description="the department ruled responsible (职责裁定)")
    matter_code: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=2000)


class ApproveExtensionIn(BaseModel):
    days: int | None = Field(default=None, ge=1, le=10, description="default: the requested days")
    reason: str | None = Field(default=None, max_length=2000)


class MergeIn(BaseModel):
    master_id: str = Field(min_length=10, max_length=26)
    reason: str | None = Field(default=None, max_length=2000)


class WhistleIn(BaseModel):
    departments: list[str] = Field(min_length=1, max_length=10)
    reason: str | None = Field(default=None, max_length=2000)


class CorrectIn(BaseModel):
    """更正分类: what the classifier should have said (omitted fields stay as they are)."""

    kind: Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"] | None = None
    matter_code: str | None = Field(default=None, max_length=16, description="事项; sets the category too")
    category: str | None = Field(default=None, max_length=4, description="大类 (when no matter fits)")
    emergency: Literal["none", "110", "119", "120", "122"] | None = Field(
        default=None, description="紧急警情 label: a service, or none (omitted: unchanged)"
    )
    reason: str | None = Field(default=None, max_length=2000)


class SurveyIn(BaseModel):
    result: Literal["满意", "基本满意", "不满意", "未评价"]
    comment: str | None = Field(default=None, max_length=2000)
    solved: bool | None = Field(
        default=None, description="the citizen's own answer: was the problem solved? (for 解决率)"
    )


class VerifyIn(BaseModel):
    passed: bool
    note: str | None = Field(default=None, max_length=2000)


class HistoryEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    action: str
    from_state: str | None
    to_state: str
    actor: str
    reason: str | None
    details: dict[str, Any]
    public: bool
    at: datetime
    hash: str

    @computed_field(description="the entry in Chinese, codes shown by their names (for pages)")  # type: ignore[prop-decorator]
    @property
    def line(self) -> str:
        return history.describe(self.action, self.details)

    @computed_field(description="who did it, in Chinese (for pages)")  # type: ignore[prop-decorator]
    @property
    def actor_name(self) -> str:
        return history.actor_name(self.actor)

    @computed_field(description="the reason in Chinese (system reasons translated; None if the line says it)")  # type: ignore[prop-decorator]
    @property
    def reason_text(self) -> str | None:
        return history.reason_text(self.action, self.reason, self.actor)


class TimeTagOut(BaseModel):
    """时限标签: working time left or over (office hours on working days, like the SLA counts)."""

    level: Literal["green", "yellow", "red", "grey"]
    label: str
    detail: str
    working_hours: float | None = None


class CaseDetail(CaseOut):
    """What a handler or dispatcher (with a key) sees: the status plus the complaint and its reporter."""

    text: str
    address: str | None = None
    reporter: dict[str, Any] = Field(default_factory=dict)
    dispatched_at: datetime | None = None
    sign_deadline_at: datetime | None = None
    return_deadline_at: datetime | None = None
    warning_at: datetime | None = Field(default=None, description="预警: 80 % of the working time to the deadline")
    deadline_limit: str | None = None
    reopen_count: int = 0
    extension_status: str | None = None
    extension_days: int | None = None
    merged_into: str | None = None
    survey_result: str | None = None
    whistle: dict[str, Any] = Field(default_factory=dict)
    closed_at: datetime | None = None
    version: int
    allowed_actions: list[str] = Field(default_factory=list)
    time_tag: TimeTagOut | None = None
    history: list[HistoryEntryOut] = Field(default_factory=list)


class CaseList(BaseModel):
    items: list[CaseDetail]
    total: int
    limit: int
    offset: int


class TransitionOut(BaseModel):
    case: CaseDetail
    entry: HistoryEntryOut


class ResponsibilityQuote(BaseModel):
    matter: str
    name: str
    responsibility: str


class ArbitrationOut(BaseModel):
    case_id: str
    matter_code: str | None
    lead: str | None
    quotes: list[ResponsibilityQuote]


class TrackEntry(BaseModel):
    action: str
    label: str
    state: str
    at: datetime
    department: str | None = None
    text: str | None = None


class TrackOut(BaseModel):
    tracking_code: str
    state: str
    state_label: str
    category: str | None
    matter: str | None
    received_at: datetime
    deadline_at: datetime | None
    merged_into: str | None = Field(default=None, description="tracking code of the master case (并单)")
    history: list[TrackEntry]
