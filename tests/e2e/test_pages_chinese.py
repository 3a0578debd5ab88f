"""Everything a person reads is Chinese, with internal codes shown by their names: the workbench, handler, tracking
and survey pages (with their dialogs open), the history lines the API gives the pages, the SMS and department
notices, and the console's error messages. Key caps (<kbd>), tracking codes and links are the only Latin text."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.catalog import default_catalog
from tests.e2e.pages_support import demo_keys
from tests.e2e.workbench_support import (
    CHROMIUM,
    case,
    chromium_page,
    dispatcher_act,
    handler_act,
    login,
    messages,
    new_case,
    wait_message,
)
from tests.support import Infra, Stack, create_operator

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium)"
)
CATALOG = default_catalog()
ENGLISH = re.compile(r"[A-Za-z]{3,}")
# department and matter codes; 110/119/120/122 are the numbers people dial, shown as such
RAW = re.compile(
    r"(?<![A-Za-z0-9])("
    + "|".join(sorted({re.escape(d.code) for d in CATALOG.departments if d.kind != "emergency"}, key=len, reverse=True))
    + r"|[A-Z]{2}\d{3}|S0\dC\d\d(G\d\d)?)(?![A-Za-z0-9])"
)
TRACKING = re.compile(r"(?<![0-9A-Z])\d{6}[0-9A-Z]{6,16}(?![0-9A-Z])")
URL = re.compile(r"https?://\S+")

VISIBLE_TEXT = """() => {
  const out = [];
  const shown = el => el && el.getClientRects().length > 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("kbd, script, style") || !shown(el)) continue;
    out.push(n.textContent);
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label]")) {
    if (!shown(el)) continue;
    for (const name of ["placeholder", "title", "aria-label"]) out.push(el.getAttribute(name) || "");
  }
  for (const sel of document.querySelectorAll("select")) {
    if (shown(sel)) for (const o of sel.options) out.push(o.textContent);
  }
  return out.join("\\n");
}"""


def foreign(text: str) -> list[str]:
    """Latin words and raw codes left once tracking codes and links are taken out."""
    clean = URL.sub(" ", TRACKING.sub(" ", text))
    return [m.group(0) for m in ENGLISH.finditer(clean)] + [m.group(0) for m in RAW.finditer(clean)]


def page_foreign(page: Any) -> list[str]:
    return foreign(page.evaluate(VISIBLE_TEXT))


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    return demo_keys(infra)


def _busy_case(stack: Stack, keys: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A case with a long history: return, review, routing with co-handlers, 吹哨, report, 挂起/恢复, 催办/督办,
    extension, 办结, an unhappy survey answer (重办), 更正分类."""
    dk, cgj = keys["dispatcher"]["ZX"], keys["handler"]["CGJ"]
    c = new_case(stack, dk, "CG011", "地铁口共享单车堆成山，轮椅和婴儿车都过不去")
    handler_act(stack, cgj, c["id"], "return", {"reason": "单车停放区由交通运输局规划"})
    dispatcher_act(stack, dk, c["id"], "approve-return", {"reason": "同意"})
    dispatcher_act(stack, dk, c["id"], "dispatch", {"lead": "CGJ", "co_handlers": ["JTJ", c["street_code"]]})
    dispatcher_act(stack, dk, c["id"], "whistle", {"departments": ["JJDD"], "reason": "联合清理"})
    handler_act(stack, keys["handler"]["JJDD"], c["id"], "report", {"note": "已到场"})
    dispatcher_act(stack, dk, c["id"], "suspend", {"reason": "等待企业调度车辆"})
    dispatcher_act(stack, dk, c["id"], "resume", {})
    dispatcher_act(stack, dk, c["id"], "urge", {})
    dispatcher_act(stack, dk, c["id"], "supervise", {})
    handler_act(stack, cgj, c["id"], "sign")
    handler_act(stack, cgj, c["id"], "extension", {"days": 2, "reason": "需企业配合清运"})
    dispatcher_act(stack, dk, c["id"], "approve-extension", {})
    handler_act(stack, cgj, c["id"], "progress", {"note": "已约谈运营企业"})
    handler_act(stack, cgj, c["id"], "reply", {"text": "已清运单车两百余辆，划定停放区并安排专人值守。"})
    dispatcher_act(stack, dk, c["id"], "survey", {"result": "不满意", "comment": "晚上又堆满了"})
    dispatcher_act(stack, dk, c["id"], "correct", {"kind": "求助", "matter_code": "CG011"})
    return case(stack, dk, c["id"])


def test_pages_history_and_messages_are_chinese(stack: Stack, infra: Infra, keys: dict[str, dict[str, str]]) -> None:
    from playwright.sync_api import expect

    dk = keys["dispatcher"]["ZX"]
    busy = _busy_case(stack, keys)
    code = busy["tracking_code"]
    assert busy["state"] == "signed" and busy["reopen_count"] == 1, busy["state"]

    # the history as the pages get it
    for entry in busy["history"]:
        for field in ("line", "actor_name", "reason_text"):
            assert not foreign(entry[field] or ""), (entry["action"], field, entry[field])
    lines = [h["line"] for h in busy["history"]]
    assert lines[0].startswith("受理（12345热线") and any(
        x.startswith("派单：共享单车乱停放 → 城市管理和综合执法局") for x in lines
    )
    assert {h["actor_name"] for h in busy["history"]} >= {"受理系统", "智能派单", "成华区大联动指挥中心 派单员"}

    # SMS to the citizen, notices to departments (催办/督办): whole sentences, no English, no codes
    wait_message(stack, code, "reopened")
    wait_message(stack, code, "supervise")
    sent = messages(stack, code)
    assert {m["template"] for m in sent} >= {
        "receipt",
        "dispatched",
        "extension_approved",
        "replied",
        "urge",
        "supervise",
    }
    for m in sent:
        assert not foreign(m["body"]), (m["template"], m["body"])

    with chromium_page(1440) as page:
        login(page, f"{stack.url('dispatch')}/workbench", dk)
        assert not page_foreign(page)
        page.click("#tabs button[data-tab='all']")
        page.fill("#f-code", code)
        page.keyboard.press("Enter")
        page.click(f"tr[data-id='{busy['id']}']")
        expect(page.locator("#detail-code")).to_have_text(code)
        assert not page_foreign(page), page_foreign(page)
        for action in ("d", "w", "p", "c", "u", "s"):  # every dialog the case offers, with its lists and hints
            page.keyboard.press(action)
            expect(page.locator("#dlg")).to_have_attribute("open", "")
            page.wait_for_timeout(300)
            assert not page_foreign(page), (action, page_foreign(page))
            page.keyboard.press("Escape")
            expect(page.locator("#dlg")).not_to_have_attribute("open", "")
        # an error explained in Chinese: a stale view acting on a case that moved on
        dispatcher_act(stack, dk, busy["id"], "suspend", {"reason": "另一位派单员挂起"})
        page.keyboard.press("u")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#dlg-msg")).to_contain_text("当前状态「已挂起」下不能执行该操作")
        assert not page_foreign(page), page_foreign(page)
        page.keyboard.press("Escape")
        expect(page.locator("#dlg")).not_to_have_attribute("open", "")
        dispatcher_act(stack, dk, busy["id"], "resume", {})

        login(page, f"{stack.url('dispatch')}/handler", keys["handler"]["CGJ"])
        page.click(f"tr[data-id='{busy['id']}']")
        expect(page.locator("#detail-state")).to_have_text("办理中")
        assert not page_foreign(page), page_foreign(page)
        page.click("#actions button[data-act='return']")
        page.click("#confirm")  # no reason: 422, explained
        expect(page.locator("#act-msg")).to_contain_text("填写有误")
        assert not page_foreign(page), page_foreign(page)

        page.goto(f"{stack.url('dispatch')}/track?code={code}")
        expect(page.locator("#state")).to_have_text("办理中")
        assert not page_foreign(page), page_foreign(page)


def test_console_errors_name_the_field_in_chinese(stack: Stack, infra: Infra) -> None:
    from playwright.sync_api import expect

    password = f"pw-{uuid.uuid4().hex[:12]}"
    username, _ = create_operator(infra, password=password)
    with chromium_page(1360) as page:
        page.goto(f"{stack.url('intake')}/console")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#login-submit")
        expect(page.locator("#operator-name")).to_contain_text(username)
        page.fill("#phone", "电话打不通")
        page.fill("#text", "小区门口路灯不亮")
        page.click("#submit")
        result = page.locator("#result")
        expect(result).to_contain_text("提交失败：来电号码格式不对")
        assert not foreign(result.inner_text()), result.inner_text()


def test_a_survey_answer_by_sms_reply_reads_as_chinese(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    """The 办结 SMS: the summary cut after whole sentences, an absolute survey link, nothing else in Latin letters."""
    dk, cgj = keys["dispatcher"]["ZX"], keys["handler"]["CGJ"]
    c = new_case(stack, dk, "CG013", "空地上每天傍晚有人烧垃圾，整个小区都是烟味")
    handler_act(stack, cgj, c["id"], "sign")
    long_reply = "已现场查处焚烧行为并清理焚烧点。" + "已安排队员每日傍晚巡查，发现一起查处一起。" * 4
    handler_act(stack, cgj, c["id"], "reply", {"text": long_reply})
    body = wait_message(stack, c["tracking_code"], "replied")["body"]
    assert "…" not in body and "已现场查处焚烧行为并清理焚烧点。" in body, body
    assert not foreign(body), body
