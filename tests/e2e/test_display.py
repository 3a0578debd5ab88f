"""The wall screen through the running services: the SSE stream delivers a new snapshot after a complaint is filed
(counted in its grid and street), neither the stream, the snapshot nor the page ever shows the citizen's name,
phone, address or words; in headless Chromium at 1920×1080 the page draws one path per grid, fills the screen
with nothing outside it, updates without a reload, and switches the map's shading. An emergency filed through
intake shows in the red hand-off alert until dispatch's development sink acknowledges it (the session's stack
acknowledges after ``LINKAGE_HANDOFF_SINK_ACK_DELAY_S``, tests/conftest.py). Screenshots at 1280, 1440 and 1920
wide land in ``LINKAGE_SHOTS_DIR`` (default /tmp/shots)."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.analytics.display.geo import DEMO_GEOJSON
from services.intake.places import default_places
from tests.support import Stack, distinct_spot, wait_until

CHROMIUM = os.environ.get("LINKAGE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SHOTS = Path(os.environ.get("LINKAGE_SHOTS_DIR", "/tmp/shots"))
SIZES = ((1920, 1080), (1440, 900), (1280, 800))
GRIDS = sum(1 for f in json.loads(DEMO_GEOJSON.read_text("utf-8"))["features"] if f["properties"]["level"] == "grid")
NAME, ADDRESS = "欧阳隐私", "成华区建设路88号3栋2单元501室"


def phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


def file_complaint(stack: Stack, caller_phone: str, marker: str) -> dict[str, Any]:
    spot = distinct_spot()
    body = {
        "call_id": f"display-{uuid.uuid4()}",
        "caller_phone": caller_phone,
        "caller_name": NAME,
        "kind": "投诉",
        "text": f"{marker} 门口井盖缺失，我的电话{caller_phone}，住{ADDRESS}",
        "address": ADDRESS,
        "matter_code": "SZ001",
        **spot,
    }
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=stack.operator_headers, timeout=20)
    assert r.status_code == 201, r.text
    grid = default_places().index.locate(spot["lon"], spot["lat"])
    assert grid is not None
    return {"grid": grid.grid_code, "street": grid.street_code, "street_name": grid.street_name}


def secrets_of(caller_phone: str, marker: str) -> tuple[str, ...]:
    return (caller_phone, caller_phone[-8:], NAME, "建设路88号", "501室", marker)


def sse(stack: Stack) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(event, data, raw data line) from the display stream, every second."""
    url = f"{stack.url('analytics')}/api/v1/display/stream?interval_s=1"
    with httpx.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                yield event, json.loads(line[6:]), line


def test_the_stream_sends_a_new_snapshot_after_a_complaint_and_no_personal_data(stack: Stack) -> None:
    analytics = stack.url("analytics")
    refused = httpx.get(f"{analytics}/api/v1/display/stream", timeout=10)
    assert refused.status_code == 406 and "text/event-stream" in refused.json()["message"]

    caller_phone, marker = phone(), f"暗号{uuid.uuid4().hex[:6]}"
    raw: list[str] = []
    first: dict[str, Any] | None = None
    placed: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    for event, data, line in sse(stack):
        raw.append(line)
        assert time.monotonic() < deadline, "no updated snapshot within 60 s"
        if event != "snapshot":
            continue
        if first is None:
            first = data
            placed = file_complaint(stack, caller_phone, marker)
            continue
        grid, street = placed["grid"], placed["street"]
        streets = {s["code"]: s for s in data["streets"]}
        old_streets = {s["code"]: s for s in first["streets"]}
        if (
            data["kpi"]["volume"] > first["kpi"]["volume"]
            and data["grids"]["today"].get(grid, 0) > first["grids"]["today"].get(grid, 0)
            and streets[street]["today"] > old_streets[street]["today"]
        ):
            break
    assert first is not None
    # a case with a grid is counted in its grid and its street, never as 未定位
    assert data["unplaced"]["today"] == first["unplaced"]["today"]
    assert data["grids"]["volume"].get(grid, 0) >= 1
    snapshot = httpx.get(f"{analytics}/api/v1/display/snapshot", timeout=10)
    assert snapshot.status_code == 200
    page = httpx.get(f"{analytics}/display", timeout=10).text
    for text in (*raw, snapshot.text, page):
        for secret in secrets_of(caller_phone, marker):
            assert secret not in text


def test_snapshot_lists_use_masked_case_numbers_only(stack: Stack) -> None:
    snap = httpx.get(f"{stack.url('analytics')}/api/v1/display/snapshot", timeout=10).json()
    for item in (*snap["overdue"]["items"], *snap["red"]["items"]):
        assert re.fullmatch(r"\d{6}…\w{0,4}|—", item["code"]), item["code"]
        assert set(item) <= {
            "code",
            "category_name",
            "matter_name",
            "street_name",
            "grid_name",
            "department",
            "supervised",
            "urged",
            "warn_level",
            "late_days",
            "late_text",
        }
    assert all("tracking_code" not in e for e in snap["events"])
    for item in snap["handoffs"]["items"]:
        assert re.fullmatch(r"\d{6}…\w{0,4}|—", item["code"]), item["code"]
        assert set(item) == {
            "code",
            "service",
            "service_name",
            "matter_name",
            "street_name",
            "transferred_at",
            "waiting_min",
            "alert_level",
            "alert_name",
            "escalations",
            "state_name",
        }
    assert {"ranking", "red", "black", "total", "period"} <= set(snap["measures"])


OVERFLOW_JS = """() => {
  const W = innerWidth, H = innerHeight, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1)
      out.push(`${el.tagName}#${el.id}.${el.getAttribute('class')} ${[r.left, r.top, r.right, r.bottom]}`);
  }
  const doc = document.documentElement;
  return {out: out.slice(0, 10), scrollW: doc.scrollWidth, scrollH: doc.scrollHeight};
}"""
# Share of a 48×27 grid of points over the screen that land on a panel, a counter or the title bar.
COVERAGE_JS = """() => {
  let hit = 0, n = 0;
  for (let i = 0; i < 48; i++) for (let j = 0; j < 27; j++) {
    const el = document.elementFromPoint((i + 0.5) * innerWidth / 48, (j + 0.5) * innerHeight / 27);
    n++; if (el && el.closest('section, .kpi, header')) hit++;
  }
  const panels = [...document.querySelectorAll('section, .kpi, header')].map(e => e.getBoundingClientRect());
  const area = panels.reduce((a, r) => a + r.width * r.height, 0) / (innerWidth * innerHeight);
  return {share: hit / n, area};
}"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (make browser)")
def test_the_wall_screen_in_chromium(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    analytics = stack.url("analytics")
    caller_phone, marker = phone(), f"暗号{uuid.uuid4().hex[:6]}"
    placed = file_complaint(stack, caller_phone, marker)
    wait_until(
        lambda: (
            httpx.get(f"{analytics}/api/v1/display/snapshot", timeout=10).json()["grids"]["today"].get(placed["grid"])
        ),
        timeout_s=60,
        message="the complaint on the wall screen",
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    external: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for width, height in SIZES:
                ctx = browser.new_context(
                    viewport={"width": width, "height": height}, locale="zh-CN", timezone_id="Asia/Shanghai"
                )
                ctx.on(
                    "request",
                    lambda req: None if req.url.startswith((analytics, "data:")) else external.append(req.url),
                )
                page = ctx.new_page()
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"{analytics}/display")
                expect(page.locator("h1")).to_contain_text("指挥中心")
                expect(page.locator("body")).not_to_have_attribute("data-loaded", "0", timeout=20000)
                expect(page.locator("#k-volume")).to_have_text(re.compile(r"^\d+$"))
                assert page.locator("#grids path.grid").count() == GRIDS == 200
                expect(page.locator(f"#g-{placed['grid']}")).to_have_attribute("style", re.compile("fill"))
                expect(page.locator("#street-rows tr")).to_have_count(5)
                expect(page.locator("#street-rows")).to_contain_text(placed["street_name"])
                for list_id in ("overdue", "red", "hotspots", "events"):
                    assert page.locator(f"#{list_id} li").count() >= 1, list_id
                assert page.locator("#channels svg rect").count() >= 5
                assert page.locator("#trend svg path").count() >= 2
                assert page.locator("#hours svg rect").count() == 24
                page.wait_for_timeout(300)
                over = page.evaluate(OVERFLOW_JS)
                assert over["out"] == [] and over["scrollW"] <= width and over["scrollH"] <= height, over
                cover = page.evaluate(COVERAGE_JS)
                assert cover["share"] >= 0.9 and cover["area"] >= 0.9, cover
                html = page.content()
                for secret in secrets_of(caller_phone, marker):
                    assert secret not in html
                page.screenshot(path=str(SHOTS / f"display-{width}.png"))
                if width == 1920:
                    # live: a new complaint moves the counter without a reload
                    before = int(page.locator("#k-volume").inner_text())
                    file_complaint(stack, phone(), marker)
                    expect(page.locator("#k-volume")).not_to_have_text(str(before), timeout=30000)
                    assert int(page.locator("#k-volume").inner_text()) > before
                    # the map's shading switches to overdue cases
                    page.click("#mode-overdue")
                    expect(page.locator("#map-title")).to_contain_text("超期在办")
                    expect(page.locator("#mode-overdue")).to_have_class(re.compile("on"))
                    page.click("#mode-volume")
                    expect(page.locator("#map-title")).to_contain_text("近7日受理")
                ctx.close()
        finally:
            browser.close()
    assert not external, f"the wall screen must not load anything from elsewhere: {external}"
    assert not errors, errors


def file_emergency(stack: Stack, caller_phone: str, marker: str) -> str:
    """A fire reported on the hotline: routed as an emergency, transferred to 119, handed to the sink."""
    spot = distinct_spot()
    body = {
        "call_id": f"display-fire-{uuid.uuid4()}",
        "caller_phone": caller_phone,
        "caller_name": NAME,
        "kind": "求助",
        "matter_code": "JJ001",
        "text": f"{marker} 楼下厨房着火了，浓烟很大，我住{ADDRESS}",
        "address": ADDRESS,
        **spot,
    }
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=stack.operator_headers, timeout=20)
    assert r.status_code == 201, r.text
    return str(r.json()["tracking_code"])


def masked(code: str) -> str:
    return code[:6] + "…" + code[-4:]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (make browser)")
def test_an_emergency_hand_off_alerts_on_the_wall_screen_until_acknowledged(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    analytics = stack.url("analytics")
    caller_phone, marker = phone(), f"暗号{uuid.uuid4().hex[:6]}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ctx = browser.new_context(
                viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{analytics}/display")
            expect(page.locator("body")).not_to_have_attribute("data-loaded", "0", timeout=20000)
            code = masked(file_emergency(stack, caller_phone, marker))
            mine = page.locator(f'#handoffs li[data-code="{code}"]')
            expect(mine).to_be_visible(timeout=20000)  # pushed by the stream, no reload
            alert = page.locator("#handoff-alert")
            expect(alert).to_contain_text("紧急警情转交")
            expect(mine).to_contain_text("119 消防救援")
            expect(mine).to_contain_text("等待")
            expect(mine).to_contain_text("级警示")
            snap = httpx.get(f"{analytics}/api/v1/display/snapshot", timeout=10).json()
            item = next(i for i in snap["handoffs"]["items"] if i["code"] == code)
            assert item["service"] == "119" and item["matter_name"] and item["street_name"] != "未定位"
            expect(mine).to_contain_text(item["matter_name"])
            expect(mine).to_contain_text(item["street_name"])
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(400)  # the page redraws 150 ms after a resize
                over = page.evaluate(OVERFLOW_JS)
                assert over["out"] == [] and over["scrollW"] <= width and over["scrollH"] <= height, over
                cover = page.evaluate(COVERAGE_JS)
                assert cover["share"] >= 0.9 and cover["area"] >= 0.9, cover
                assert alert.is_visible() and mine.is_visible()
                page.screenshot(path=str(SHOTS / f"display-handoff-{width}.png"))
            html = page.content()
            for secret in secrets_of(caller_phone, marker):
                assert secret not in html
            # the development sink acknowledges: the case leaves the alert (and the strip goes when it was the last)
            expect(mine).to_have_count(0, timeout=90000)
            snap = httpx.get(f"{analytics}/api/v1/display/snapshot", timeout=10).json()
            assert code not in [i["code"] for i in snap["handoffs"]["items"]]
            if not snap["handoffs"]["total"]:
                expect(alert).to_be_hidden(timeout=10000)
            ctx.close()
        finally:
            browser.close()
    assert not errors, errors
