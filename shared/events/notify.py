"""Events published by notify on ``linkage.notify.deliveries.v1`` (key: case id)."""

from __future__ import annotations

from datetime import datetime

from shared.events.registry import EventPayload, register_event


@register_event
class MessageDeliveredV1(EventPayload):
    event_type = "cn.linkage.notify.delivered.v1"

    message_id: str
    case_id: str | None = None
    tracking_code: str | None = None
    channel: str
    template: str
    status: str
    at: datetime
