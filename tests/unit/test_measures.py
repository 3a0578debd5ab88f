"""The pure parts of the measures: folding one case's events, periods, the configuration, the composite score and
红黑榜, CSV/XLSX files."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError

from services.analytics.measures.config import load_config
from services.analytics.measures.periods import parse_month, resolve
from services.analytics.measures.projection import fold, street_of_grid
from services.analytics.measures.service import composite, finish, pick_lists, survey_figures
from services.analytics.reports.export import Section, csv_bytes, pct, xlsx_bytes
from shared.errors import InvalidInput
from shared.events.cases import CaseEventV1, case_event
from shared.events.complaints import PlaceRef

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def ev(action: str, to_state: str, hours: float, *, lead: str | None = "CGJ", **extra: Any) -> CaseEventV1:
    fields: dict[str, Any] = {
        "case_id": "C1",
        "tracking_code": "261124ABCDEFG",
        "to_state": to_state,
        "at": T0 + timedelta(hours=hours),
        "channel": "wechat",
        "category": "CG",
        "lead": lead,
        "deadline": T0 + timedelta(days=5),
        "received_at": T0,
    }
    fields.update(extra)
    return case_event(action, **fields)


def run(events: list[CaseEventV1]) -> tuple[dict[str, Any], dict[tuple[str, int], dict[str, Any]]]:
    case: dict[str, Any] | None = None
    running: dict[str, Any] | None = None
    facts: dict[tuple[str, int], dict[str, Any]] = {}
    for e in events:
        case, running, touched = fold(case, running, e)
        for row in touched:
            facts[(row["kind"], row["n"])] = row
    assert case is not None
    return case, facts


def test_a_case_through_return_reassign_reopen_and_close() -> None:
    case, facts = run(
        [
            ev("created", "accepted", 0, lead=None, place=PlaceRef()),
            ev("dispatched", "dispatched", 0.01, details={"sign_deadline_at": str(T0 + timedelta(hours=2))}),
            ev("returned", "returned", 3, from_state="dispatched"),
            ev("return_approved", "triage", 4),
            ev("reassigned", "dispatched", 5, lead="ZJJ"),
            ev("supplemented", "dispatched", 5.5, lead="ZJJ", place=PlaceRef(grid_code="S02C01G02")),
            ev("signed", "signed", 30, lead="ZJJ"),
            ev("replied", "replied", 40, lead="ZJJ"),
            ev("surveyed", "surveyed", 50, lead="ZJJ", details={"result": "不满意"}),
            ev("reopened", "signed", 50, lead="ZJJ", deadline=T0 + timedelta(days=9)),
            ev("replied", "replied", 24 * 10, lead="ZJJ", deadline=T0 + timedelta(days=9)),
            ev("surveyed", "surveyed", 24 * 10 + 1, lead="ZJJ", details={"result": "基本满意", "solved": False}),
            ev("closed", "closed", 24 * 10 + 1, lead="ZJJ", from_state="surveyed"),
        ]
    )
    first = facts[("assigned", 2)]
    assert first["department"] == "CGJ" and first["signed_at"] is None
    assert first["returned_at"] == T0 + timedelta(hours=3) and first["ended_at"] == T0 + timedelta(hours=4)
    second = facts[("assigned", 5)]
    assert second["department"] == "ZJJ" and second["signed_at"] == T0 + timedelta(hours=30)
    assert second["sign_due_at"] is None  # no sign deadline in the event: the configured fallback applies later
    assert second["ended_at"] == T0 + timedelta(hours=24 * 10 + 1)  # released when the case closed
    assert facts[("replied", 8)]["on_time"] is True and facts[("replied", 11)]["on_time"] is False
    assert facts[("surveyed", 12)]["result"] == "基本满意" and facts[("surveyed", 12)]["solved"] is False
    closed = facts[("closed", 13)]
    assert closed["one_time"] is False and closed["reopened_before"] is True and closed["department"] == "ZJJ"
    assert case["returns"] == 1 and case["reopens"] == 1 and case["open_assignment"] is None
    # placed later: the street follows from the grid
    assert case["grid_code"] == "S02C01G02" and case["street_code"] == "S02"
    assert case["state"] == "closed" and case["survey_result"] == "基本满意"


def test_one_time_close_failed_verification_and_merged_followers() -> None:
    _, facts = run(
        [
            ev("created", "accepted", 0, lead=None),
            ev("dispatched", "dispatched", 0.1),
            ev("signed", "signed", 1),
            ev("replied", "replied", 2),
            ev("surveyed", "surveyed", 3, details={"result": "满意"}),
            ev("closed", "closed", 3, from_state="surveyed"),
        ]
    )
    assert facts[("closed", 6)]["one_time"] is True
    _, facts = run(
        [
            ev("created", "accepted", 0, lead=None, channel="grid"),
            ev("dispatched", "dispatched", 0.1, channel="grid"),
            ev("signed", "signed", 1, channel="grid"),
            ev("replied", "replied", 2, channel="grid"),
            ev("verified", "signed", 3, channel="grid", details={"passed": False}),  # 核查未通过 = 重办
            ev("replied", "replied", 4, channel="grid"),
            ev("verified", "verified", 5, channel="grid", details={"passed": True}),
            ev("closed", "closed", 6, channel="grid", from_state="verified"),
        ]
    )
    assert facts[("closed", 8)]["reopened_before"] is True and facts[("closed", 8)]["one_time"] is False
    case, facts = run(
        [
            ev("created", "accepted", 0, lead=None),
            ev("dispatched", "dispatched", 0.1),
            ev("merged", "merged", 1, details={"master_id": "M"}),
            ev("closed", "closed", 9, from_state="merged"),  # closes with its master: not a close of its own
        ]
    )
    assert not [k for k in facts if k[0] == "closed"]
    assert facts[("assigned", 2)]["ended_at"] == T0 + timedelta(hours=1)


def test_a_case_first_seen_after_its_creation_and_unknown_actions() -> None:
    case, facts = run([ev("signed", "signed", 2), ev("corrected", "signed", 3, category="SZ")])
    assert case["received_at"] == T0 and case["category"] == "SZ" and case["events"] == 2 and not facts


def test_streets_of_grids() -> None:
    assert street_of_grid("S01C01G01") == "S01"
    assert street_of_grid("S04C09G99") == "S04"  # not on the map: the code says it
    assert street_of_grid("-") is None and street_of_grid(None) is None and street_of_grid("XYZ") is None


def test_periods() -> None:
    week = resolve("week", date(2026, 11, 26))
    assert (week.first, week.last) == (date(2026, 11, 23), date(2026, 11, 29))
    assert week.label == "2026年第48周（11月23日–11月29日）"
    month = resolve("month", date(2026, 2, 10))
    assert (month.first, month.last, month.label) == (date(2026, 2, 1), date(2026, 2, 28), "2026年2月")
    assert month.start.isoformat() == "2026-02-01T00:00:00+08:00" and month.end.isoformat().startswith("2026-03-01")
    assert month.previous().label == "2026年1月" and resolve("month", date(2026, 1, 5)).previous().label == "2025年12月"
    assert resolve("custom", date(2026, 10, 30), date(2026, 12, 2)).months() == [
        date(2026, 10, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]
    assert resolve("day", date(2026, 11, 3)).previous().first == date(2026, 11, 2)
    for bad in (
        lambda: resolve("year"),
        lambda: resolve("custom", date(2026, 1, 1)),
        lambda: resolve("custom", date(2026, 1, 2), date(2026, 1, 1)),
        lambda: resolve("custom", date(2025, 1, 1), date(2026, 6, 1)),
        lambda: resolve("day", date(1999, 1, 1)),
        lambda: parse_month("2026-13"),
        lambda: parse_month("Nov"),
    ):
        with pytest.raises(InvalidInput):
            bad()
    assert parse_month("2026-11") == date(2026, 11, 1)


def test_configuration_and_override(tmp_path: Path) -> None:
    base = load_config()
    assert base.satisfaction["基本满意"] == 0.8 and base.satisfaction["未评价"] is None
    assert abs(sum(base.ranking.weights.values()) - 1) < 1e-9
    override = tmp_path / "m.yaml"
    override.write_text(
        "satisfaction: {满意: 1, 基本满意: 0.5, 不满意: 0, 未评价: 1}\n"
        "ranking: {weights: {satisfaction_rate: 1}}\n"
        "lists: {month: {min_volume: 2}}\n",
        encoding="utf-8",
    )
    cfg = load_config(override)
    assert cfg.satisfaction == {"满意": 1, "基本满意": 0.5, "不满意": 0, "未评价": 1}
    assert cfg.ranking.weights == {"satisfaction_rate": 1} and cfg.ranking.kinds == base.ranking.kinds
    assert cfg.lists["month"].min_volume == 2 and cfg.lists["month"].red == base.lists["month"].red
    for text in ("ranking: {weights: {speed: 1}}", "satisfaction: {满意: 2}", "reviews: {scale: {6: x}}"):
        override.write_text(text, encoding="utf-8")
        with pytest.raises(ValidationError):
            load_config(override)


def test_survey_answers_count_by_configured_weights() -> None:
    cfg = load_config()
    assert survey_figures("基本满意", None, 10, cfg) == {
        "surveyed": 10,
        "rated": 10,
        "satisfaction_points": 8.0,
        "solve_base": 10,
        "solved": 10,
    }
    assert survey_figures("满意", False, 2, cfg) == {
        "surveyed": 2,
        "rated": 2,
        "satisfaction_points": 2.0,
        "solve_base": 2,
    }
    assert survey_figures("未评价", None, 3, cfg) == {"surveyed": 3}
    assert survey_figures("不满意", None, 1, cfg)["satisfaction_points"] == 0.0


def test_composite_score_and_lists() -> None:
    cfg = load_config()
    figures = finish(
        {
            "received": 0,
            "assigned": 20,
            "sign_due_24h": 10,
            "signed_24h": 10,
            "response_due": 10,
            "responded": 5,
            "returned": 2,
            "replied": 4,
            "replied_on_time": 4,
            "closed": 4,
            "closed_one_time": 4,
            "closed_reopened": 0,
            "surveyed": 4,
            "rated": 4,
            "solve_base": 4,
            "solved": 2,
            "satisfaction_points": 3.0,
            "overdue_open": 0,
            "survey": {},
        }
    )
    score, parts = composite(figures, None, cfg)
    w = cfg.ranking.weights
    expected = (
        w["response_rate"] * 0.5
        + w["solve_rate"] * 0.5
        + w["satisfaction_rate"] * 0.75
        + w["on_time_rate"]
        + w["sign_rate_24h"]
        + w["one_time_rate"]
        + w["return_rate"] * 0.9
        + w["reopen_rate"] * 1.0
    ) / (1 - w["review"])
    assert score == pytest.approx(round(100 * expected, 2)) and parts["review"] is None and parts["return_rate"] == 0.9
    assert composite({k: None for k in parts}, None, cfg)[0] is None

    def item(code: str, score: float, eligible: bool = True) -> dict[str, Any]:
        return {"code": code, "score": score, "eligible": eligible}

    ranked = [item("A", 97), item("B", 91), item("C", 85), item("D", 80), item("E", 72), item("F", 69), item("G", 50)]
    ranked.append(item("H", 10, eligible=False))
    lists = pick_lists(ranked, cfg, "week")  # red: top 3 or ≥ 95; black: bottom 3 or < 60
    assert [i["code"] for i in lists["red"]] == ["A", "B", "C"]
    assert [i["code"] for i in lists["black"]] == ["G", "F", "E"]
    lists = pick_lists(ranked[:2], cfg, "week")  # two departments: both red, none black
    assert [i["code"] for i in lists["red"]] == ["A", "B"] and lists["black"] == []


def test_csv_and_xlsx_files() -> None:
    sections = [
        Section("部门", ["单位", "满意率", "派单量"], rows=[["城管局", pct(0.9356), 12], ["住建局", pct(None), 0]]),
        Section("趋势", ["日期", "受理"], rows=[["2026-11-01", 3]]),
    ]
    text = csv_bytes(sections).decode("utf-8")
    assert text.startswith("\ufeff部门\r\n单位,满意率,派单量\r\n城管局,93.6%,12\r\n住建局,,0\r\n\r\n趋势\r\n")
    assert csv_bytes(sections[:1]).decode("utf-8").startswith("\ufeff单位,满意率")  # one table: no title line
    book = load_workbook(io.BytesIO(xlsx_bytes(sections, title="月报")))
    assert book.sheetnames == ["部门", "趋势"]
    sheet = book["部门"]
    assert sheet["A1"].value == "月报 · 部门" and sheet["B2"].value == "满意率"
    assert sheet["B3"].value == pytest.approx(0.9356) and sheet["B3"].number_format == "0.0%"
    assert sheet["C3"].value == 12
