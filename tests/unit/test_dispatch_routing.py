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


# ----------------------------------------------------------------------------- the classifier's auto-route decision


def suggestion(category: str, matter: str | None, confidence: float, **extra: object) -> CategorySuggestion:
    return CategorySuggestion(category=category, matter_code=matter, confidence=confidence, **extra)  # type: ignore[arg-type]


def test_auto_routed_first_suggestion_is_dispatched_whatever_its_matter_confidence() -> None:
    d = route(
        event(
            suggestions=[
                suggestion("CG", "CG001", 0.41, category_confidence=0.93, auto_route=True),
                suggestion("HB", "HB001", 0.05, category_confidence=0.04),
            ]
        )
    )
    assert d.outcome == "dispatch" and d.matter_code == "CG001" and d.lead == "S03"
    assert d.confidence == 0.93
    assert d.why == "事项「占道经营」（CG001）派二仙桥街道，协办：城市管理和综合执法局"


def test_classifier_not_sure_goes_to_triage_with_a_chinese_reason() -> None:
    d = route(
        event(
            suggestions=[
                suggestion("CG", "CG001", 0.5, category_confidence=0.62, auto_route=False),
                suggestion("HB", "HB001", 0.2, category_confidence=0.3),
            ]
        )
    )
    assert d.outcome == "triage" and d.matter_code == "CG001" and d.category == "CG"
    assert d.why == "分类把握不足（62%，最可能是城市管理·占道经营），请人工确认"


def test_first_suggestion_decides_not_the_most_confident_matter() -> None:
    # the classifier orders suggestions by category; a later one with a higher matter score does not win
    d = route(
        event(
            suggestions=[
                suggestion("CG", "CG008", 0.3, category_confidence=0.9, auto_route=True),
                suggestion("CG", "CG001", 0.6, category_confidence=0.9),
            ]
        )
    )
    assert d.outcome == "dispatch" and d.matter_code == "CG008" and d.lead == "CGJ"


def test_older_events_without_auto_route_use_the_confidence_floor() -> None:
    d = route(event(suggestions=[suggestion("CG", "CG008", 0.3)]))
    assert d.outcome == "triage" and d.why == "分类把握不足（30%），请人工确认"
    assert route(event(suggestions=[suggestion("CG", "CG008", 0.8)])).outcome == "dispatch"


def test_triage_reasons_name_what_is_missing() -> None:
    assert route(event()).why == "未能判断事项，请人工分类"
    d = route(event(matter_code="CG001", place=None))
    assert d.outcome == "triage"
    assert d.why == "属地事项需要街道，但地址未定位到网格（事项「占道经营」（CG001）），请人工派单"
    # a co-handler 属地 needs the street too
    d = route(event(matter_code="SZ002", place=PlaceRef()))
    assert d.outcome == "triage" and d.why.startswith("属地事项需要街道，但地址未定位到网格")
    d = route(event(matter_code="CG001", place=PlaceRef(street_code="NOPE", street_name="无名街道")))
    assert d.outcome == "triage" and "找不到承办单位" in d.why and "无名街道" in d.why


def test_other_reasons_are_chinese_too() -> None:
    d = route(event(emergency=EmergencyFlag(service="119", reason="火灾、爆炸或燃气泄漏")))
    assert d.why == "紧急警情：火灾、爆炸或燃气泄漏，转119 消防"
    jj = next(m for m in default_catalog().matters if m.category == "JJ")
    assert route(event(matter_code=jj.code)).why.startswith(f"事项「{jj.name}」（{jj.code}）属紧急警情，转")
    zx = default_catalog().matter("ZX001")
    d = route(event(kind="咨询", matter_code="ZX001"))
    assert d.outcome == "answer" and d.why == f"咨询事项「{zx.name}」（ZX001），按知识库答复，直接办结"
    for d in (route(event(matter_code="CG008")), route(event(matter_code="CG001"))):
        assert all(not ("a" <= ch.lower() <= "z") for ch in d.why.replace(d.matter_code or "", "")), d.why
