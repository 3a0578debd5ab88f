"""Routing from the matter catalog: transfer, answer, dispatch (属地 resolved), triage."""

from __future__ import annotations

from datetime import UTC, datetime

from services.dispatch.routing.service import route
from shared.catalog import default_catalog
from shared.events.complaints import CategorySuggestion, ComplaintReceivedV1, EmergencyFlag, PlaceRef


def event(**overrides: object) -> ComplaintReceivedV1:
    values: dict[str, object] = {
        "complaint_id": "C1",
        "tracking_code": "T1",
        "channel": "hotline",
        "channel_key": "k",
        "kind": "投诉",
        "text": "小区门口每天早上都有人摆摊卖菜",
        "place": PlaceRef(street_code="S03"),
        "received_at": datetime(2026, 11, 2, 2, tzinfo=UTC),
    }
    values.update(overrides)
    return ComplaintReceivedV1(**values)  # type: ignore[arg-type]


def test_emergency_flag_and_jj_matter_are_transferred() -> None:
    d = route(event(emergency=EmergencyFlag(service="119", reason="起火")))
    assert d.outcome == "transfer" and d.emergency_service == "119"
    jj = next(m for m in default_catalog().matters if m.category == "JJ")
    d = route(event(matter_code=jj.code))
    assert d.outcome == "transfer" and d.emergency_service == jj.emergency_service


def test_consultation_with_a_knowledge_answer_is_answered() -> None:
    zx = next(m for m in default_catalog().matters if m.category == "ZX")
    d = route(event(kind="咨询", matter_code=zx.code))
    assert d.outcome == "answer" and d.knowledge_answer == zx.knowledge_answer


def test_territorial_matter_goes_to_the_street_with_co_handlers() -> None:
    d = route(event(matter_code="CG001"))
    assert d.outcome == "dispatch" and d.lead == "S03" and d.co_handlers == ["CGJ"]


def test_department_matter_from_the_best_suggestion() -> None:
    d = route(
        event(
            suggestions=[
                CategorySuggestion(category="CG", matter_code="CG008", confidence=0.8),
                CategorySuggestion(category="CG", matter_code="CG001", confidence=0.1),
            ]
        )
    )
    assert d.outcome == "dispatch" and d.matter_code == "CG008" and d.lead == "CGJ"


def test_low_confidence_no_matter_or_no_street_go_to_triage() -> None:
    assert (
        route(event(suggestions=[CategorySuggestion(category="CG", matter_code="CG008", confidence=0.3)])).outcome
        == "triage"
    )
    assert route(event()).outcome == "triage"
    d = route(event(matter_code="CG001", place=None))
    assert d.outcome == "triage" and "属地" in d.why
