"""Layout and links: the case tables fit their cards at 1280, 1440 and 1920 px (no sideways scrolling), time tags
count working time, the survey link in the 办结 SMS is absolute and opens the styled survey page. Screenshots of
every page at the three widths land in ``LINKAGE_SCREENSHOTS`` (default var/screenshots)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pages_support import demo_keys
from tests.e2e.workbench_support import (
    CHROMIUM,
    WIDTHS,
    case,
    chromium_page,
    handler_act,
    login,
    new_case,
    no_horizontal_overflow,
    shot,
    wait_message,
)
from tests.support import Infra, Stack, wait_until

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium)"
)
WORKING_TIME_TAG = re.compile(r"^(剩余\d+(个工作日|小时|分钟)|已超时(\d+(个工作日|小时|分钟))?|已停止计时|—)$")
# matters the housing department (ZJJ) leads, which the other page tests do not file
LONG_TEXTS = (
    ("HB008", "对面工地土方开挖一直不覆盖防尘网，风一吹整条街都是灰，车上窗台上全是土，老人孩子咳嗽不停"),
    ("ZF005", "我们这栋老楼外墙瓷砖成片脱落，楼道墙面有很长的裂缝还在变宽，住户担心房子出安全问题"),
    ("SZ015", "跨河小桥的桥面栏杆断了一截，桥下护坡也塌了一块，晚上没有灯，行人走过去很危险"),
)


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    return demo_keys(infra)


@pytest.fixture(scope="module")
def cases(stack: Stack, keys: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    dk, zjj = keys["dispatcher"]["ZX"], keys["handler"]["ZJJ"]
    out = [new_case(stack, dk, matter, text) for matter, text in LONG_TEXTS]
    assert [c["lead"] for c in out] == ["ZJJ"] * 3, [(c["state"], c["lead"]) for c in out]
    handler_act(stack, zjj, out[1]["id"], "sign")
    handler_act(stack, zjj, out[2]["id"], "sign")
    handler_act(stack, zjj, out[2]["id"], "extension", {"days": 3, "reason": "需协调多个部门联合维修"})
    return out


def test_case_tables_fit_their_cards_and_time_tags_count_working_time(
    stack: Stack, keys: dict[str, dict[str, str]], cases: list[dict[str, Any]]
) -> None:
    from playwright.sync_api import expect

    dk = keys["dispatcher"]["ZX"]
    for c in cases:
        tag = case(stack, dk, c["id"])["time_tag"]
        assert WORKING_TIME_TAG.match(tag["label"]) and "按工作时间计" in tag["detail"], tag

    for width in WIDTHS:
        with chromium_page(width) as page:
            login(page, f"{stack.url('dispatch')}/handler", keys["handler"]["ZJJ"])
            expect(page.locator(f"tr[data-id='{cases[0]['id']}']")).to_be_visible()
            sizes = no_horizontal_overflow(page, "#inbox-table", "#inbox-card")
            for label in page.locator("#inbox .sla").all_inner_texts():
                assert WORKING_TIME_TAG.match(label), label
            code_cell = page.locator(f"tr[data-id='{cases[0]['id']}'] td.code")
            assert code_cell.evaluate("td => td.scrollWidth <= td.clientWidth"), "tracking code cut off"
            page.click(f"tr[data-id='{cases[2]['id']}']")
            expect(page.locator("#detail-state")).to_have_text("办理中")
            no_horizontal_overflow(page, "#inbox-table", "#inbox-card")
            shot(page, f"handler-{width}")
            assert sizes["page"] <= width

            login(page, f"{stack.url('dispatch')}/workbench", dk)
            page.click("#tabs button[data-tab='all']")
            expect(page.locator(f"tr[data-id='{cases[0]['id']}']")).to_be_visible()
            no_horizontal_overflow(page, "#table", "#list-card")
            page.click(f"tr[data-id='{cases[2]['id']}']")
            expect(page.locator("#detail")).to_contain_text("延期申请：3个工作日")
            no_horizontal_overflow(page, "#table", "#list-card")
            shot(page, f"workbench-{width}")

            page.goto(f"{stack.url('dispatch')}/track?code={cases[2]['tracking_code']}")
            expect(page.locator("#state")).to_have_text("办理中")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot(page, f"track-{width}")


def test_survey_link_is_absolute_and_opens_the_styled_page(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    from playwright.sync_api import expect

    dk, zjj = keys["dispatcher"]["ZX"], keys["handler"]["ZJJ"]
    c = new_case(stack, dk, "SZ014", "人行道上的盲道砖翘起来好几块，视障朋友走着容易绊倒")
    handler_act(stack, zjj, c["id"], "sign")
    handler_act(stack, zjj, c["id"], "reply", {"text": "已更换破损盲道砖并重新铺平。"})
    body = wait_message(stack, c["tracking_code"], "replied")["body"]
    found = re.search(r"(https?://\S+?/survey/[A-Za-z0-9_-]+)", body)
    assert found, body
    link = found.group(1)
    assert link.startswith(stack.url("notify") + "/survey/"), (link, stack.url("notify"))

    for width in (390, *WIDTHS):
        with chromium_page(width, 800) as page:
            page.goto(link)  # looking does not use the link up
            expect(page.locator("header.top h1")).to_contain_text("满意度评价")
            expect(page.locator("#code")).to_have_text(c["tracking_code"])
            style = page.evaluate(
                """() => {
                  const h = getComputedStyle(document.querySelector("header.top"));
                  const b = [...document.querySelectorAll(".pick span")].map(x => getComputedStyle(x));
                  const card = getComputedStyle(document.querySelector(".card"));
                  return {header: h.backgroundImage, colors: b.map(s => s.borderTopColor),
                          sizes: b.map(s => parseFloat(s.fontSize)), card: card.backgroundColor,
                          page: document.documentElement.scrollWidth};
                }"""
            )
            assert "linear-gradient" in style["header"] and style["card"] == "rgb(255, 255, 255)", style
            assert len(set(style["colors"])) == 5 and min(style["sizes"]) >= 16, style
            assert style["page"] <= width, style
            shot(page, f"survey-{width}")

    with chromium_page(1280) as page:
        page.goto(link)
        page.click(".pick.yes")
        page.click(".pick.s1")
        page.fill("#comment", "处理及时")
        page.click("#send")
        expect(page.locator("#result")).to_have_text("感谢您的评价！您的意见将用于改进办理工作。")
        shot(page, "survey-answered-1280")
    wait_until(lambda: case(stack, dk, c["id"])["state"] == "closed", message="case closed after the answer")
