"""What people read: history lines, actors and system reasons in Chinese, time tags in working time, the labels a
correction records."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from services.dispatch.case import history
from services.dispatch.case.corrections import Labels, corrected_labels, example_row
from services.dispatch.case.models import Case
from services.dispatch.sla.timetag import span, time_tag
from shared.catalog import default_catalog
from shared.errors import InvalidInput
from shared.events.cases import CASE_ACTIONS
from shared.wording import has_english, system_reason

CATALOG = default_catalog()
RAW_CODE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2}\d{3}|S0\d|[A-Z]{3,4})(?![A-Za-z0-9])")


def sh(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A moment given in Shanghai time (UTC+8), as aware UTC."""
    return datetime(y, m, d, hh - 8, mm, tzinfo=UTC) if hh >= 8 else datetime(y, m, d - 1, hh + 16, mm, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("matter SZ016 → S04", f"按事项「{CATALOG.matter('SZ016').name}」派至双桥子街道"),
        ("low confidence 0.11", "分类把握不足（置信度11%），请人工确认"),
        ("no matter suggested", "未能识别诉求事项，请人工派单"),
        (
            "no handler: 属地 handler needs the street of the grid",
            "未能确定承办单位：该事项由属地街道承办，但地址未定位到街道",
        ),
        ("citizen unsatisfied", "市民对办理结果不满意，重新办理"),
        ("unsatisfied again after reopening (重办后仍不满意)", "重办后市民仍不满意"),
        ("超时未签收 (sign-for limit passed)", "超过签收时限未签收"),
        ("预警催办: 80% of the time limit used", "办理时限已用去80%，预警催办"),
        ("超期督办: the time limit has passed", "已超过办理时限，超期督办"),
        ("吹哨报到超时 (not reported within 30 minutes)", "吹哨后30分钟内未报到"),
        ("master case 261124K7Q2PX closed", "主工单261124K7Q2PX已结案"),
        ("回访超时未评价", "回访超时未评价"),
        ("事项「井盖缺失」（SZ016）派双桥子街道", "事项「井盖缺失」派双桥子街道"),
        ("something only in English", None),
        ("检查完毕 (checked by the night shift)", "检查完毕"),
        ("", None),
        (None, None),
    ],
)
def test_system_reasons_are_chinese(reason: str | None, expected: str | None) -> None:
    assert system_reason(reason) == expected


def test_every_action_has_a_chinese_line_without_codes() -> None:
    details = {
        "lead": "S04",
        "co_handlers": ["SWJ", "CGJ"],
        "matter_code": "SZ016",
        "channel": "hotline",
        "kind": "投诉",
        "service": "119",
        "days": 3,
        "deadline_at": "2026-11-30T09:30:00+00:00",
        "result": "满意",
        "passed": False,
        "master_tracking_code": "261124K7Q2PX",
        "departments": ["HBJ", "S01"],
        "level": "red",
        "suspended_working_days": 2,
        "kind_previous": "投诉",
        "category": "SZ",
        "emergency": None,
        "previous": {"kind": "投诉", "emergency": "110"},
    }
    for action in CASE_ACTIONS:
        line = history.describe(action, details).replace("261124K7Q2PX", "")
        assert line and not has_english(line), (action, line)
        assert not RAW_CODE.search(line), (action, line)
    assert history.describe("dispatched", details).startswith(
        f"派单：{CATALOG.matter('SZ016').name} → 双桥子街道（协办：水务局、城市管理和综合执法局）"
    )
    assert history.describe("created", {"channel": "grid", "kind": "投诉"}) == "受理（网格员上报 · 投诉）"
    assert history.describe("transferred", {"service": "119"}) == "转紧急服务：119（消防）"


@pytest.mark.parametrize(
    ("actor", "name"),
    [
        ("intake", "受理系统"),
        ("routing", "智能派单"),
        ("system:sla", "时限监督"),
        ("system:duplicates", "重复诉求识别"),
        ("citizen:sms", "市民（短信）"),
        ("dispatcher:ZX:demo dispatcher", "成华区大联动指挥中心 派单员"),
        ("handler:CGJ:some label", "城市管理和综合执法局 承办单位"),
        ("admin:ZX", "成华区大联动指挥中心 管理员"),
    ],
)
def test_actors_by_their_chinese_names(actor: str, name: str) -> None:
    assert history.actor_name(actor) == name


def test_reasons_people_typed_stay_as_typed_and_the_routing_line_is_not_repeated() -> None:
    assert history.reason_text("returned", "Not ours", "handler:CGJ:x") == "Not ours"
    # the survey flow writes its reason under the dispatcher who recorded the answer
    assert history.reason_text("reopened", "citizen unsatisfied", "dispatcher:ZX:x") == "市民对办理结果不满意，重新办理"
    assert history.reason_text("dispatched", "matter SZ016 → S04", "routing") is None
    assert history.reason_text("triaged", "low confidence 0.42", "routing") == "分类把握不足（置信度42%），请人工确认"


# ------------------------------------------------------------------------------------------ time tags


def test_a_friday_evening_case_due_monday_has_one_working_day_left() -> None:
    friday_evening = sh(2026, 11, 27, 20)  # Friday 20:00; Saturday and Sunday do not count
    monday_due = sh(2026, 11, 30, 17, 30)
    tag = time_tag(state="signed", deadline_at=monday_due, warning_at=None, now=friday_evening)
    assert (tag.level, tag.label) == ("green", "剩余1个工作日")
    assert tag.working_hours == pytest.approx(7.0)


def test_working_days_left_and_hours_on_the_last_day() -> None:
    due = sh(2026, 11, 27, 17, 30)  # Friday
    tag = time_tag(state="dispatched", deadline_at=due, warning_at=None, now=sh(2026, 11, 24, 10))  # Tuesday 10:00
    assert tag.label == "剩余3个工作日" and tag.detail == "剩余3个工作日6小时（按工作时间计）"
    last = time_tag(state="signed", deadline_at=due, warning_at=sh(2026, 11, 26, 9), now=sh(2026, 11, 27, 15, 15))
    assert (last.level, last.label, last.detail) == ("yellow", "剩余2小时", "预警，剩余2小时15分（按工作时间计）")


def test_overdue_counts_working_time_only() -> None:
    due = sh(2026, 11, 20, 17, 30)  # Friday
    weekend = time_tag(state="signed", deadline_at=due, warning_at=None, now=sh(2026, 11, 22, 12))  # Sunday
    assert (weekend.level, weekend.label) == ("red", "已超时")
    wednesday = time_tag(state="signed", deadline_at=due, warning_at=None, now=sh(2026, 11, 25, 9))  # Wed 09:00
    assert (wednesday.level, wednesday.label) == ("red", "已超时2个工作日")


def test_stopped_and_finished_clocks() -> None:
    due = sh(2026, 11, 27, 17, 30)
    assert time_tag(state="suspended", deadline_at=due, warning_at=None).label == "已停止计时"
    assert time_tag(state="closed", deadline_at=due, warning_at=None).level == "grey"
    assert span(0.25) == ("15分钟", "15分钟") and span(7 * 2 + 1.5) == ("2个工作日", "2个工作日1小时")


# ------------------------------------------------------------------------------------------ corrections


def _case(**fields: object) -> Case:
    base: dict[str, object] = {"kind": "投诉", "category": "SZ", "matter_code": "SZ016", "emergency": None}
    base.update(fields)
    return Case(**base)


def test_a_correction_records_the_labels_after_it() -> None:
    case = _case()
    assert corrected_labels(case, kind="求助") == Labels("求助", "SZ", "SZ016", None)
    matter = next(m for m in CATALOG.matters if m.category == "CG")
    assert corrected_labels(case, matter_code=matter.code) == Labels("投诉", "CG", matter.code, None)
    assert corrected_labels(case, category="HB") == Labels("投诉", "HB", None, None)  # the SZ matter no longer fits
    assert corrected_labels(case, emergency="119").emergency == "119"
    flagged = _case(emergency={"service": "110", "reason": "x"})
    assert corrected_labels(flagged, emergency="none").emergency is None


@pytest.mark.parametrize(
    "change",
    [{"kind": "闲聊"}, {"matter_code": "ZZ999"}, {"category": "QQ"}, {"emergency": "999"}, {"kind": "投诉"}, {}],
)
def test_a_correction_that_is_unknown_or_changes_nothing_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        corrected_labels(_case(), **change)


def test_the_corpus_row_has_the_classifier_fields() -> None:
    row = example_row({"kind": "求助", "category": "SZ", "matter_code": "SZ016", "emergency": None}, "井盖没了")
    assert row == {"text": "井盖没了", "kind": "求助", "category": "SZ", "emergency": None}
    assert example_row({"kind": "求助", "category": None}, "井盖没了") is None
