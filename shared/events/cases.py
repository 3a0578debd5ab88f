"""Events published by dispatch on ``linkage.dispatch.cases.v1`` (key: case id, so a case stays in order).

Every state transition is one ``CaseEventV1`` whose CloudEvents type names the action,
e.g. ``cn.linkage.case.dispatched.v1``. The payload shape is shared by all actions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.events.complaints import PlaceRef, Reporter
from shared.events.registry import EventPayload, register_event

CASE_ACTIONS = (
    "created",
    "transferred",
    "answered",
    "triaged",
    "dispatched",
    "signed",
    "returned",
    "return_approved",
    "return_denied",
    "reassigned",
    "arbitrated",
    "progressed",
    "extension_requested",
    "extension_approved",
    "extension_denied",
    "suspended",
    "resumed",
    "replied",
    "surveyed",
    "reopened",
    "verified",
    "merged",
    "whistled",
    "reported",
    "closed",
    "warned",
    "urged",
    "supervised",
    "publicized",
    "supplemented",
    "unmerged",
    "corrected",
    # 紧急警情转交 (dispatch's hand-off job; the case stays ``transferred``): pushed to the joint 110/119/120/122
    # platform, acknowledged by it (or by a dispatcher on the phone), escalated when no acknowledgement came in time
    # (``details``: ``handoff_id``, ``service``, ``alert_level``, ``escalations``)
    "handoff_sent",
    "handoff_acknowledged",
    "handoff_escalated",
    # 就地解决: a grid worker's report solved on the spot (with its photo), closed at once, never dispatched
    "solved_on_spot",
)


class CaseEventV1(EventPayload):
    event_type = "cn.linkage.case.event.v1"

    case_id: str
    tracking_code: str
    complaint_id: str | None = None
    action: str
    from_state: str | None = None
    to_state: str
    actor: str = "system"
    reason: str | None = None
    at: datetime
    channel: str | None = None
    kind: str | None = None
    category: str | None = None
    matter_code: str | None = None
    lead: str | None = None
    co_handlers: list[str] = Field(default_factory=list)
    place: PlaceRef | None = None
    deadline: datetime | None = None
    deadline_provisional: bool = False
    received_at: datetime | None = None
    reporter: Reporter | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def _case_event_model(action: str) -> type[CaseEventV1]:
    name = "Case" + "".join(part.title() for part in action.split("_")) + "V1"
    model: type[CaseEventV1] = type(
        name, (CaseEventV1,), {"__module__": __name__, "event_type": f"cn.linkage.case.{action}.v1"}
    )
    return register_event(model)


CASE_EVENT_MODELS: dict[str, type[CaseEventV1]] = {action: _case_event_model(action) for action in CASE_ACTIONS}


def case_event(action: str, **fields: Any) -> CaseEventV1:
    """Build the event for one case transition (``action`` must be in CASE_ACTIONS)."""
    return CASE_EVENT_MODELS[action](action=action, **fields)
