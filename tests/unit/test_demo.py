"""``linkage demo`` without a running system: the manifest, the history generator's realism and validity (every
script is one the demo import accepts), and the 就地解决 path of the state machine."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from linkage.demo import CHANNEL_MIX, SHANGHAI, Scenery, Target, _working_time, history_cases, png
from services.dispatch.case import state as sm
from services.dispatch.demo.schemas import DemoCaseIn, DemoHistoryIn
from services.dispatch.demo.service import check_times, complaint_event
from shared.catalog import default_catalog
from shared.errors import InvalidInput

NOW = datetime(2026, 12, 9, 4, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Shanghai


def manifest() -> dict[str, object]:
    return {
        "services": {
            s: f"http://127.0.0.1:800{i}/" for i, s in enumerate(("intake", "dispatch", "notify", "analytics"), 1)
        },
        "demo": {
            "dispatch": {
                "api_keys": {
                    "handler": {"CGJ": "demo-handler-CGJ"},
                    "dispatcher": {"ZX": "demo-dispatcher-ZX"},
                    "admin": {"ZX": "demo-admin-ZX"},
                }
            },
            "intake": {
                "api_keys": {"operator": {"demo": "op-key"}},
                "wechat": {"token": "t", "aes_key": "k", "appid": "a"},
                "grid_workers": [{"worker_id": "W-1", "token": "W-1.x", "grids": ["S01C01G01"]}],
                "open311": {"api_keys": ["o311"]},
            },
        },
    }


def test_target_from_the_manifest() -> None:
    t = Target.from_manifest(manifest())
    assert t.dispatch == "http://127.0.0.1:8002" and t.operator_key == "op-key"
    assert t.dispatcher_key == "demo-dispatcher-ZX" and t.admin_key == "demo-admin-ZX"
    assert t.handler_keys == {"CGJ": "demo-handler-CGJ"} and t.open311_key == "o311"
    with pytest.raises(ValueError, match="demo keys"):
        Target.from_manifest({"services": manifest()["services"], "demo": {}})


def test_history_is_realistic_and_accepted_by_the_import() -> None:
    cases = history_cases(7, now=NOW, seed=42)
    assert 400 <= len(cases) <= 900
    DemoHistoryIn.model_validate({"cases": cases[:500]})  # the import's own shape
    channels = Counter(c["complaint"]["channel"] for c in cases)
    assert set(channels) == set(CHANNEL_MIX) and channels["hotline"] > channels["open311"]
    assert sum(1 for c in cases if c["complaint"].get("emergency_service")) > 0
    assert sum(1 for c in cases if c["complaint"].get("solved_on_spot")) > 0
    steps = Counter(s["action"] for c in cases for s in c["steps"])
    assert steps["sign"] > steps["reply"] > steps["survey"] > 0 and steps["return"] > 0 and steps["urge"] > 0
    assert steps["approve_extension"] > 0 and steps["verify"] > 0
    catalog = default_catalog()
    for i, case in enumerate(cases):
        item = DemoCaseIn.model_validate(case)
        check_times(item, i, NOW)  # past, in order
        assert item.complaint.received_at >= NOW - timedelta(days=7, hours=1)
        matter = catalog.get_matter(item.complaint.matter_code or "")
        assert matter is not None and (matter.emergency_service or None) == item.complaint.emergency_service
        event = complaint_event(item)
        assert event.received_at == item.complaint.received_at and len(event.tracking_code) == 19
        assert event.reporter.phone is None and event.reporter.name is None  # no personal data in demo history
    days = Counter(datetime.fromisoformat(c["complaint"]["received_at"]).date() for c in cases)
    assert len(days) >= 7


def test_history_times_are_checked() -> None:
    future = DemoCaseIn.model_validate(
        {"complaint": {"channel": "app", "text": "x", "received_at": (NOW + timedelta(minutes=1)).isoformat()}}
    )
    with pytest.raises(InvalidInput):
        check_times(future, 0, NOW)
    backwards = DemoCaseIn.model_validate(
        {
            "complaint": {"channel": "app", "text": "x", "received_at": (NOW - timedelta(hours=2)).isoformat()},
            "steps": [{"action": "sign", "at": (NOW - timedelta(hours=3)).isoformat()}],
        }
    )
    with pytest.raises(InvalidInput) as refused:
        check_times(backwards, 3, NOW)
    assert refused.value.extra["field"] == "cases.3.steps.0.at"


def test_people_act_in_office_hours() -> None:
    rng = random.Random(1)
    friday_evening = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai
    local = _working_time(friday_evening, 1.0, rng).astimezone(SHANGHAI)
    assert local.weekday() == 0 and 9 <= local.hour <= 10  # Monday morning


def test_scenery_places_points_in_their_grid_and_png_is_an_image() -> None:
    scenery = Scenery(random.Random(3))
    for _ in range(20):
        spot = scenery.spot()
        assert scenery.index.contains(spot.grid_code, spot.lon, spot.lat)
    assert png(5).startswith(b"\x89PNG\r\n\x1a\n")


def test_solve_on_spot_in_the_state_machine() -> None:
    grid = sm.Snapshot(channel="grid")
    assert "solve_on_spot" in sm.allowed_actions(grid)
    solved = sm.apply(grid, "solved_on_spot")
    assert solved.state == "verified" and sm.apply(solved, "close").state == "closed"
    with pytest.raises(sm.IllegalTransition, match="grid worker"):
        sm.apply(sm.Snapshot(channel="hotline"), "solve_on_spot")
    with pytest.raises(sm.IllegalTransition):
        sm.apply(sm.Snapshot(state="dispatched", channel="grid"), "solve_on_spot")
