"""Places through the running services: a GPS point in Beijing is flagged and never dispatched inside the
district; an address written inside a WeChat text places the complaint and its case; a WeChat location (or a
typed address) sent after a text routes the case that waited in triage for its place, with a Chinese history
line, and analytics counts it in its street."""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import uuid
from typing import Any

import httpx
import pytest
import yaml

from services.dispatch.seeds.demo import seed
from services.intake.places import default_places, wgs84_to_gcj02
from services.intake.places.service import DEFAULT_GAZETTEER
from tests.e2e.channels_support import case_for, new_msg_id, post_wechat, query, reply_content, wechat_xml
from tests.support import Infra, Stack, distinct_spot, wait_until

CODE = re.compile(r"受理编号：?\s*([0-9A-Z]{12,20})")
BEIJING = (116.397, 39.909)  # 天安门, WGS-84
NOTE = "坐标不在本区范围内"
STREETS = {"S01": "猛追湾街道", "S02": "府青路街道", "S03": "二仙桥街道", "S04": "双桥子街道", "S05": "万年场街道"}


@pytest.fixture(scope="module")
def dispatcher(infra: Infra) -> dict[str, str]:
    keys: dict[str, dict[str, str]] = asyncio.run(seed(infra.settings()))["api_keys"]
    return {"X-API-Key": keys["dispatcher"]["ZX"]}


def openid() -> str:
    return "o" + secrets.token_hex(12)


def detail(stack: Stack, dispatcher: dict[str, str], case_id: str) -> dict[str, Any]:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/dispatch/cases/{case_id}", headers=dispatcher, timeout=10)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def complaint_row(infra: Infra, complaint_id: str) -> dict[str, Any]:
    rows = query(infra, "SELECT * FROM complaints WHERE id = :i", i=complaint_id)
    assert len(rows) == 1
    return rows[0]


def wechat_text(stack: Stack, user: str, text: str) -> str:
    r = post_wechat(stack, wechat_xml(user, "text", new_msg_id(), Content=text))
    assert r.status_code == 200, r.text
    return reply_content(r)


def wechat_location(stack: Stack, user: str, lon: float, lat: float) -> str:
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)  # WeChat sends GCJ-02
    xml = wechat_xml(
        user,
        "location",
        new_msg_id(),
        Location_X=f"{gcj_lat:.6f}",
        Location_Y=f"{gcj_lon:.6f}",
        Scale="15",
        Label="位置",
    )
    r = post_wechat(stack, xml)
    assert r.status_code == 200, r.text
    return reply_content(r)


def complaint_by_code(infra: Infra, code: str) -> dict[str, Any]:
    rows = query(infra, "SELECT * FROM complaints WHERE tracking_code = :c", c=code)
    assert len(rows) == 1
    return rows[0]


def street_counts(stack: Stack) -> dict[str, int]:
    r = httpx.get(f"{stack.url('analytics')}/api/v1/stats/overview", timeout=10)
    assert r.status_code == 200, r.text
    return {item["code"]: item["count"] for item in r.json()["by_street"]}


def test_a_point_in_beijing_is_flagged_and_not_dispatched(
    stack: Stack, infra: Infra, dispatcher: dict[str, str]
) -> None:
    body = {
        "client_request_id": str(uuid.uuid4()),
        "text": "路灯坏了好几天了，晚上一盏都不亮，走路看不见",  # 路灯不亮: ZJJ leads, no 属地 needed
        "lon": BEIJING[0],
        "lat": BEIJING[1],
        "phone": "13800138000",
    }
    r = httpx.post(f"{stack.url('intake')}/api/v1/app/complaints", json=body, timeout=20)
    assert r.status_code == 201, r.text
    filed = r.json()
    assert filed["outside_district"] is True and filed["place_note"] == NOTE
    assert filed["grid_code"] is None and filed["street_code"] is None
    row = complaint_row(infra, filed["id"])
    assert row["place"]["outside_district"] is True and row["grid_code"] is None

    case = wait_until(lambda: case_for(stack, filed["id"]), message="case in dispatch")
    seen = detail(stack, dispatcher, case["id"])
    assert seen["state"] == "triage" and seen["lead"] is None, seen  # never dispatched to an inside department
    assert seen["street_code"] is None and seen["grid_code"] is None
    triaged = [h for h in seen["history"] if h["action"] == "triaged"]
    assert triaged and triaged[-1]["reason"].startswith(NOTE)


def test_an_address_inside_a_wechat_text_places_the_complaint(
    stack: Stack, infra: Infra, dispatcher: dict[str, str]
) -> None:
    number = random.randrange(150, 398, 2)  # far from other tests' 双林路 reports (并单 needs < 200 m)
    text = f"我在建设路街道双林路{number}号这边，井盖莫得了，晚上黑黢黢的怕有人掉下去"
    expected = default_places().resolve(f"双林路{number}号")
    assert expected.status == "resolved" and expected.grid is not None
    reply = wechat_text(stack, openid(), text)
    code = CODE.search(reply).group(1)  # type: ignore[union-attr]
    row = complaint_by_code(infra, code)
    assert "请发送位置" not in reply and expected.grid.grid_name in reply, (reply, row)  # 已识别问题地点：…
    assert row["address"] == f"建设路街道双林路{number}号" and row["address_status"] == "resolved"
    assert row["location_source"] == "gazetteer" and (row["lon"], row["lat"]) == expected.point
    assert row["grid_code"] == expected.grid.grid_code and row["street_code"] == expected.grid.street_code
    case = wait_until(
        lambda: (c := case_for(stack, row["id"])) and c["state"] != "accepted" and c, message="case routed"
    )
    assert case["grid_code"] == expected.grid.grid_code and case["street_code"] == expected.grid.street_code
    assert case["state"] == "dispatched", detail(stack, dispatcher, case["id"])["history"]


def _data() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_GAZETTEER.read_text(encoding="utf-8"))
    return raw


def _wait_counted(stack: Stack, street: str, at_least: int) -> dict[str, int]:
    def counted() -> dict[str, int] | None:
        counts = street_counts(stack)
        return counts if counts.get(street, 0) >= at_least else None

    return wait_until(
        counted,
        timeout_s=30,
        message=f"analytics counts {street}",
    )


def test_a_wechat_location_follow_up_routes_the_case_waiting_in_triage(
    stack: Stack, infra: Infra, dispatcher: dict[str, str]
) -> None:
    user = openid()
    reply = wechat_text(stack, user, "路边的垃圾桶满了好几天没人清运，臭得很")  # 属地 matter, no place yet
    assert "请发送位置" in reply
    code = CODE.search(reply).group(1)  # type: ignore[union-attr]
    complaint = complaint_by_code(infra, code)
    case = wait_until(
        lambda: (c := case_for(stack, complaint["id"])) and c["state"] != "accepted" and c, message="case in triage"
    )
    assert case["state"] == "triage" and case["grid_code"] is None
    triaged = [h for h in detail(stack, dispatcher, case["id"])["history"] if h["action"] == "triaged"][-1]
    assert triaged["details"].get("awaits_place") is True
    before = _wait_counted(stack, "-", 1)

    # a location in Beijing is refused and the complaint keeps waiting for a usable one
    assert "不在本区范围内" in wechat_location(stack, user, *BEIJING)
    assert case_for(stack, complaint["id"])["state"] == "triage"  # type: ignore[index]

    spot = distinct_spot()
    grid = default_places().index.locate(spot["lon"], spot["lat"])
    assert grid is not None
    reply = wechat_location(stack, user, spot["lon"], spot["lat"])
    assert code in reply and "已补充" in reply and grid.grid_name in reply

    routed = wait_until(
        lambda: (c := case_for(stack, complaint["id"])) and c["state"] == "dispatched" and c,
        message="the located case leaves triage",
    )
    assert routed["grid_code"] == grid.grid_code and routed["street_code"] == grid.street_code
    assert routed["lead"] == grid.street_code  # 属地: the street that owns the grid
    history = detail(stack, dispatcher, case["id"])["history"]
    supplemented = [h for h in history if h["action"] == "supplemented"][-1]
    assert supplemented["reason"] == f"补充位置后定位到网格 {grid.grid_name}"
    dispatched = history[-1]
    assert dispatched["action"] == "dispatched" and dispatched["actor"] == "routing"
    assert dispatched["reason"] == f"补充位置后定位到网格 {grid.grid_name}，自动派往 {STREETS[grid.street_code]}"

    # analytics: the case's count moves from 未定位 (-) to its street
    after = _wait_counted(stack, grid.street_code, before.get(grid.street_code, 0) + 1)
    assert after.get("-", 0) <= before.get("-", 0)


def test_a_typed_address_answers_the_location_request(stack: Stack, infra: Infra) -> None:
    compound = random.choice(_data()["compounds"])
    building = random.randrange(1, compound["buildings"] + 1)
    user = openid()
    reply = wechat_text(stack, user, "小区门口每天早上都有人摆摊卖菜，人行道都走不通了")
    assert "请发送位置" in reply
    code = CODE.search(reply).group(1)  # type: ignore[union-attr]
    complaint = complaint_by_code(infra, code)
    wait_until(lambda: (c := case_for(stack, complaint["id"])) and c["state"] == "triage", message="case in triage")
    answer = wechat_text(stack, user, f"我在{compound['name']}{building}栋这边")
    assert "已收到地址" in answer and code in answer, answer
    assert len(query(infra, "SELECT id FROM complaints WHERE reporter->>'wechat_openid' = :u", u=user)) == 1
    routed = wait_until(
        lambda: (c := case_for(stack, complaint["id"])) and c["state"] == "dispatched" and c,
        message="the case placed by the typed address leaves triage",
    )
    assert routed["grid_code"] == compound["grid"]
    row = complaint_by_code(infra, code)
    assert row["grid_code"] == compound["grid"] and row["location_source"] == "gazetteer"
