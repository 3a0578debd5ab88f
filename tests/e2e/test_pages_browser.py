"""The four pages in a real headless Chromium (Debian's binary driven by Playwright; no browser downloads).

A complaint is filed on intake; its tracking code is looked up on /track; a department handler signs it on
/handler (and sees a 409 explained in Chinese for a stale view); a dispatcher approves a return and re-dispatches
on /workbench; the command-center screen /display shows the day. Screenshots land in var/screenshots/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.pages_support import BROWSER_PROBLEMS, demo_keys, file_complaint
from tests.support import REPO, Infra, Stack

CHROMIUM = os.environ.get("LINKAGE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHOTS = REPO / "var" / "screenshots"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    return demo_keys(infra)


def test_track_handler_workbench_display_in_chromium(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    dispatch, analytics = stack.url("dispatch"), stack.url("analytics")
    dk = keys["dispatcher"]["ZX"]
    handler_key = keys["handler"]["CGJ"]
    cases: list[dict[str, Any]] = [
        file_complaint(
            stack,
            dk,
            address="成华区建设路12号",
            matter_code=m,
            text=t,
            caller_phone=f"1370000{i:04d}",
            caller_name="李秀英",
        )
        for i, (m, t) in enumerate(BROWSER_PROBLEMS)
    ]
    a, b, c = cases
    assert all(x["state"] == "dispatched" and x["lead"] == "CGJ" for x in cases), [
        (x["state"], x["lead"], x["matter_code"], x["merged_into"]) for x in cases
    ]
    hk = {"X-API-Key": handler_key}
    r = httpx.post(f"{dispatch}/api/v1/handler/cases/{c['id']}/return", headers=hk, json={"reason": "属街道管辖范围"})
    assert r.is_success, r.text
    SHOTS.mkdir(parents=True, exist_ok=True)
    external: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ctx = browser.new_context(
                viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            ctx.on(
                "request",
                lambda req: (
                    external.append(req.url) if not req.url.startswith((dispatch, analytics, "data:")) else None
                ),
            )
            page = ctx.new_page()

            # /track: unknown code, then the real one.
            page.goto(f"{dispatch}/track")
            expect(page.locator("h1")).to_contain_text("办理进度查询")
            page.fill("#code", "000000ZZZZZZ")
            page.click("#go")
            expect(page.locator("#notfound")).to_contain_text("未查询到查询码「000000ZZZZZZ」对应的诉求")
            page.fill("#code", a["tracking_code"].lower())
            page.click("#go")
            expect(page.locator("#state")).to_have_text("已派单")
            expect(page.locator("#timeline")).to_contain_text("已受理")
            expect(page.locator("#timeline")).to_contain_text("城市管理和综合执法局")
            assert "李秀英" not in page.content() and "1370000" not in page.content()

            # /handler: wrong key, then the department's key; sign case A through the UI.
            page.goto(f"{dispatch}/handler")
            page.fill("#key", "not-a-key")
            page.click("#login-btn")
            expect(page.locator("#login-msg")).to_contain_text("接口密钥无效")
            page.fill("#key", handler_key)
            page.click("#login-btn")
            expect(page.locator("#who")).to_contain_text("城市管理和综合执法局")
            if (banner := page.locator("#calendar-banner")).count():
                expect(banner).to_contain_text("节假日")
            page.click(f"tr[data-id='{a['id']}']")
            expect(page.locator("#detail-state")).to_have_text("待签收")
            expect(page.locator("#detail")).to_contain_text("李秀英")  # the handler may see who to call back
            page.click("#actions button[data-act='sign']")
            expect(page.locator("#act-msg")).to_have_text("已签收。")
            expect(page.locator("#detail-state")).to_have_text("办理中")
            expect(page.locator("#actions button[data-act='reply']")).to_be_visible()
            expect(page.locator(f"tr[data-id='{a['id']}']")).to_contain_text("办理中")
            # a stale view: B is signed elsewhere, then 签收 in the page → 409 explained in Chinese
            page.click(f"tr[data-id='{b['id']}']")
            expect(page.locator("#detail-state")).to_have_text("待签收")
            assert httpx.post(f"{dispatch}/api/v1/handler/cases/{b['id']}/sign", headers=hk).is_success
            page.click("#actions button[data-act='sign']")
            expect(page.locator("#act-msg")).to_contain_text("当前状态「办理中」下不能执行该操作")
            expect(page.locator("#act-msg")).to_contain_text("当前可执行的操作：")
            expect(page.locator("#act-msg")).to_contain_text("办结")
            page.click(f"tr[data-id='{a['id']}']")
            page.screenshot(path=str(SHOTS / "handler.png"), full_page=True)

            page.goto(f"{dispatch}/track?code={a['tracking_code']}")
            expect(page.locator("#state")).to_have_text("办理中")
            expect(page.locator("#timeline li").first).to_contain_text("已签收")
            page.screenshot(path=str(SHOTS / "track.png"), full_page=True)

            # /workbench: approve C's return, then dispatch it to its street.
            page.goto(f"{dispatch}/workbench")
            page.fill("#key", dk)
            page.click("#login-btn")
            expect(page.locator("#who")).to_contain_text("派单员")
            page.click("#tabs button[data-tab='approvals']")
            page.click(f"tr[data-id='{c['id']}']")
            expect(page.locator("#detail-state")).to_have_text("退单待审")
            expect(page.locator("#detail")).to_contain_text("属街道管辖范围")
            page.click("#actions button[data-act='approve_return']")
            page.fill("#in-reason", "同意，改派属地街道")
            page.click("#confirm")
            expect(page.locator("#act-msg")).to_have_text("已同意退单。")
            expect(page.locator("#detail-state")).to_have_text("待派单")
            page.click("#actions button[data-act='dispatch']")
            page.select_option("#lead", c["street_code"] or "S01")
            page.fill("#in-reason", "属地街道负责")
            page.click("#confirm")
            expect(page.locator("#act-msg")).to_have_text("已派单。")
            expect(page.locator("#detail-state")).to_have_text("待签收")
            expect(page.locator("#detail")).to_contain_text("猛追湾街道")
            page.click("#actions button[data-act='urge']")
            page.fill("#in-reason", "请尽快签收")
            page.click("#confirm")
            expect(page.locator("#act-msg")).to_have_text("已催办。")
            page.click("#tabs button[data-tab='all']")
            expect(page.locator("#list")).to_contain_text(a["tracking_code"])
            page.screenshot(path=str(SHOTS / "workbench.png"), full_page=True)

            # /display: the big screen, dark, refreshed from the stats endpoints.
            big = ctx.new_page()
            big.set_viewport_size({"width": 1920, "height": 1080})
            big.goto(f"{analytics}/display")
            expect(big.locator("h1")).to_contain_text("指挥中心")
            expect(big.locator("#k-volume")).to_have_text(re.compile(r"^\d+$"))
            expect(big.locator("#hotspots")).to_contain_text("猛追湾街道", timeout=15000)
            expect(big.locator("#events")).to_contain_text("签收", timeout=15000)
            expect(big.locator("#categories")).to_contain_text("城市管理")
            loaded = int(big.locator("body").get_attribute("data-loaded") or 0)
            # the 5 s auto refresh: the load counter moves on
            expect(big.locator("body")).not_to_have_attribute("data-loaded", str(loaded), timeout=12000)
            html = big.content()
            for x in cases:
                assert x["tracking_code"] not in html
            assert "李秀英" not in html and "1370000" not in html and "建设路12号" not in html
            big.screenshot(path=str(SHOTS / "display.png"))
        finally:
            browser.close()
    assert not external, f"the pages must not load anything from elsewhere: {external}"
