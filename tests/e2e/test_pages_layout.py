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
LONG_TEXTS = (
    ("CG009", "沿街一排商铺的门头招牌年久失修，铁架锈穿了，最大的一块有三米多长，刮风时哐哐作响随时可能砸到行人"),
    ("CG017", "菜市场旁边的公共厕所连续一周没有保洁人员，地面积水，洗手池堵塞，气味熏得周边商户都没法做生意"),
    ("CG007", "河道边绿化带被人连续几个晚上偷倒建筑垃圾和装修废料，已经堆成小山，还有人往里面扔生活垃圾"),
)


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    return demo_keys(infra)


@pytest.fixture(scope="module")
def cases(stack: Stack, keys: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    dk, cgj = keys["dispatcher"]["ZX"], keys["handler"]["CGJ"]
    out = [new_case(stack, dk, matter, text) for matter, text in LONG_TEXTS]
    handler_act(stack, cgj, out[1]["id"], "sign")
    handler_act(stack, cgj, out[2]["id"], "sign")
    handler_act(stack, cgj, out[2]["id"], "extension", {"days": 3, "reason": "需协调多个部门联合清运"})
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
            login(page, f"{stack.url('dispatch')}/handler", keys["handler"]["CGJ"])
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

    dk, cgj = keys["dispatcher"]["ZX"], keys["handler"]["CGJ"]
    c = new_case(stack, dk, "CG006", "小区垃圾分类亭的四个桶天天混着倒，分类成了摆设")
    handler_act(stack, cgj, c["id"], "sign")
    handler_act(stack, cgj, c["id"], "reply", {"text": "已约谈物业和清运公司，恢复分类收运。"})
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
                  const b = [...document.querySelectorAll(".choices button")].map(x => getComputedStyle(x));
                  const card = getComputedStyle(document.querySelector(".card"));
                  return {header: h.backgroundImage, colors: b.map(s => s.backgroundColor),
                          sizes: b.map(s => parseFloat(s.fontSize)), card: card.backgroundColor,
                          page: document.documentElement.scrollWidth};
                }"""
            )
            assert "linear-gradient" in style["header"] and style["card"] == "rgb(255, 255, 255)", style
            assert len(set(style["colors"])) == 3 and min(style["sizes"]) >= 16, style
            assert style["page"] <= width, style
            shot(page, f"survey-{width}")

    with chromium_page(1280) as page:
        page.goto(link)
        page.fill("#comment", "处理及时")
        page.click(".choices button.s1")
        expect(page.locator("#result")).to_have_text("感谢您的评价！您的意见将用于改进办理工作。")
        shot(page, "survey-answered-1280")
    wait_until(lambda: case(stack, dk, c["id"])["state"] == "closed", message="case closed after the answer")
