"""The pure part of the analytics projection: folding one case's events into its status row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.analytics.stats.names import grid_name, mask_tracking_code, street_name
from services.analytics.stats.service import count_key, fold_status
from shared.events.cases import CaseEventV1, case_event
from shared.events.complaints import PlaceRef

T0 = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 00:30 on the 25th in Asia/Shanghai
DUE = T0 + timedelta(days=5)


def _event(action: str, to_state: str, at: datetime, **extra: Any) -> CaseEventV1:
    return case_event(
        action,
        case_id="C1",
        tracking_code="261125ABCDEF",
        to_state=to_state,
        at=at,
        channel="hotline",
        category="CG",
        lead="CGJ",
        deadline=DUE,
        received_at=T0,
        place=PlaceRef(street_code="S01", grid_code="S01C02G07"),
        **extra,
    )


def test_fold_follows_the_closed_loop() -> None:
    row = fold_status(None, _event("created", "accepted", T0))
    assert row["is_open"] and row["grid_code"] == "S01C02G07" and row["received_at"] == T0
    row = fold_status(row, _event("dispatched", "dispatched", T0 + timedelta(minutes=1)))
    row = fold_status(row, _event("warned", "dispatched", T0 + timedelta(hours=1), details={"level": "yellow"}))
    assert row["warn_level"] == "yellow"
    row = fold_status(row, _event("supervised", "dispatched", T0 + timedelta(hours=2)))
    assert row["warn_level"] == "red" and row["supervised"] == 1
    row = fold_status(row, _event("warned", "dispatched", T0 + timedelta(hours=3), details={"level": "yellow"}))
    assert row["warn_level"] == "red"  # never back down by a later yellow
    row = fold_status(row, _event("signed", "signed", T0 + timedelta(hours=4)))
    row = fold_status(row, _event("replied", "replied", DUE + timedelta(hours=1)))
    assert row["replied_on_time"] is False and not row["is_open"] and row["state"] == "replied"
    row = fold_status(row, _event("closed", "closed", DUE + timedelta(days=1)))
    assert row["closed_at"] == DUE + timedelta(days=1) and row["last_action"] == "closed"


def test_counts_by_shanghai_day_and_names() -> None:
    assert count_key(_event("created", "accepted", T0))[0].isoformat() == "2026-11-25"
    assert street_name("S01") == "猛追湾街道" and street_name(None) == "未定位"
    assert grid_name("S01C02G07").endswith("网格")
    assert mask_tracking_code("261125ABCDEF") == "261125******"


def test_dispatchs_yellow_urge_is_the_warning() -> None:
    """预警 comes from dispatch's SLA timer (working time), not from the wall clock in analytics."""
    row = fold_status(None, _event("created", "accepted", T0))
    row = fold_status(row, _event("dispatched", "dispatched", T0))
    row = fold_status(row, _event("urged", "dispatched", T0 + timedelta(hours=1), details={"level": "whistle"}))
    assert row["warn_level"] is None and row["urged"] == 1
    row = fold_status(row, _event("urged", "dispatched", T0 + timedelta(days=4), details={"level": "yellow"}))
    assert row["warn_level"] == "yellow" and row["urged"] == 2
