"""The operator console in a real headless Chromium (Debian's binary, driven by Playwright; no downloads)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.channels_support import query
from tests.e2e.wired_intake import wired_intake
from tests.support import REPO, Infra, Stack, create_operator

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
SCREENSHOT = REPO / "var" / "screenshots" / "console.png"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def intake(infra: Infra, stack: Stack) -> Iterator[str]:
    with wired_intake(infra, stack) as url:
        yield url


def test_operator_files_a_ticket_in_the_console(intake: str, infra: Infra, stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = f"pw-{uuid.uuid4().hex[:12]}"
    username, _ = create_operator(infra, password=password)
    op = stack.operator_headers
    number = "137" + str(uuid.uuid4().int)[:8]
    earlier = httpx.post(
        f"{intake}/api/v1/complaints",
        json={
            "call_id": f"call-{uuid.uuid4()}",
            "caller_phone": number,
            "text": "建设路12号门口井盖坏了，晚上很危险",
            "address": "成华区建设路12号",
        },
        headers=op,
        timeout=10,
    ).json()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 980}, locale="zh-CN")
            external: list[str] = []
            page.on("request", lambda req: external.append(req.url) if not req.url.startswith(intake) else None)
            page.goto(f"{intake}/console")
            expect(page.locator("h1")).to_contain_text("受理台")
            expect(page.locator("#login")).to_be_visible()  # not logged in: the login form, no ticket form
            assert page.locator("#ticket").count() == 0
            page.fill("#username", username)
            page.fill("#password", "wrong-password")
            page.click("#login-submit")
            expect(page.locator("#login-error")).to_contain_text("用户名或密码错误")
            page.fill("#password", password)
            page.click("#login-submit")
            expect(page.locator("#operator-name")).to_contain_text(username)
            cookie = next(c for c in page.context.cookies() if c["name"] == "linkage_console")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            expect(page.locator("#operator_id")).to_have_value(username)

            page.fill("#phone", number)
            expect(page.locator("#history")).to_contain_text(earlier["tracking_code"])

            page.fill("#address", "火星基地七号楼")
            expect(page.locator("#address-flag")).to_contain_text("地址未能识别，请核实")

            page.fill("#text", "楼下着火了，浓烟很大，有人被困")
            expect(page.locator("#emergency")).to_contain_text("转 119")

            page.fill("#text", "建设路12号门口的井盖又坏了，晚上很危险")
            expect(page.locator("#emergency")).to_be_hidden()
            expect(page.locator("#classification")).to_contain_text("SZ002")
            page.fill("#address", "成华区建设路12号")
            expect(page.locator("#address-flag")).to_contain_text("猛追湾街道 · 建设路社区")  # names, not codes
            expect(page.locator("#duplicates")).to_contain_text(earlier["tracking_code"])

            page.locator("#classification .sugg button", has_text="SZ002").click()
            expect(page.locator("#matter_code")).to_have_value("SZ002")
            page.click("#submit")
            expect(page.locator("#tracking-code")).to_be_visible()
            code = page.locator("#tracking-code").inner_text()
            assert code and code != earlier["tracking_code"]
            expect(page.locator("#tracking-secret")).to_be_visible()  # the citizen's 查询密码, shown once
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert not external, f"the console must not load anything from elsewhere: {external}"
            page.click("#logout-submit")
            expect(page.locator("#login")).to_be_visible()
            back = page.request.get(f"{intake}/api/v1/hotline/address?q=建设路")
            assert back.status == 401  # the session ended with the logout
        finally:
            browser.close()
    r = httpx.get(f"{intake}/api/v1/hotline/callers/{number}/history", headers=op, timeout=10).json()
    stored = next(i for i in r["items"] if i["tracking_code"] == code)
    assert stored["matter_code"] == "SZ002" and stored["grid_code"].startswith("S01")
    # the ticket records the logged-in operator
    recorded = query(infra, "SELECT operator_id FROM complaints WHERE id = :i", i=stored["id"])
    assert recorded == [{"operator_id": username}]
