"""Survey answers on ``linkage.feedback.v1`` (key: case id)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.events.registry import EventPayload, register_event

SurveyResult = Literal["满意", "基本满意", "不满意", "未评价"]


@register_event
class SurveyAnsweredV1(EventPayload):
    event_type = "cn.linkage.feedback.survey_answered.v1"

    case_id: str
    tracking_code: str
    result: SurveyResult
    solved: bool | None = None
    comment: str | None = None
    channel: str = "sms"
    answered_at: datetime
