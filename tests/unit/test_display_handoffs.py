"""The display's hand-off alert projection: folded from the case events, idempotent, levels only rise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.analytics.handoffs.service import alert_name, fold, service_name
from shared.events.cases import case_event
from shared.events.complaints import PlaceRef

T0 = datetime(2026, 12, 9, 2, 0, tzinfo=UTC)


def event(action: str, minutes: int, **details: Any) -> Any:
    return case_event(
        action,
        case_id="01JCASE0000000000000000000",
        tracking_code="261209K7Q2PXW9HMT4RZC",
        to_state="transferred",
        at=T0 + timedelta(minutes=minutes),
        category="JJ",
        matter_code="JJ001",
        lead="119",
        place=PlaceRef(street_code="S01", grid_code="S01G01"),
        details=details,
    )


def run(events: list[Any]) -> dict[str, Any] | None:
    row = None
    for e in events:
        row = fold(row, e)
    return row


def test_transfer_opens_escalation_raises_and_acknowledgement_closes() -> None:
    events = [
        event("transferred", 0, service="119"),
        event("handoff_sent", 1, handoff_id="H1", service="119", alert_level=1, escalations=0),
        event("handoff_escalated", 4, handoff_id="H1", service="119", alert_level=2, escalations=1),
    ]
    row = run(events)
    assert row is not None
    assert row["service"] == "119" and row["handoff_id"] == "H1" and row["street_code"] == "S01"
    assert row["transferred_at"] == T0 and row["sent_at"] == T0 + timedelta(minutes=1)
    assert row["alert_level"] == 2 and row["escalations"] == 1 and row["acknowledged_at"] is None
    done = fold(row, event("handoff_acknowledged", 6, handoff_id="H1", service="119", alert_level=2, escalations=1))
    assert done["acknowledged_at"] == T0 + timedelta(minutes=6)


def test_applied_twice_gives_the_same_row() -> None:
    events = [
        event("transferred", 0, service="120"),
        event("handoff_sent", 1, handoff_id="H2", service="120", alert_level=1, escalations=0),
        event("handoff_escalated", 4, handoff_id="H2", service="120", alert_level=2, escalations=1),
        event("handoff_acknowledged", 5, handoff_id="H2", service="120", alert_level=2, escalations=1),
    ]
    once = run(events)
    assert run(events + events) == once
    late_copy = run([*events, events[1]])  # an old event again never lowers the level or moves a time
    assert late_copy == once


def test_names_for_people() -> None:
    assert service_name("119") == "119 消防救援" and service_name("110") == "110 公安报警"
    assert alert_name(2) == "二级"
