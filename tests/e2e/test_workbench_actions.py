"""Every dispatcher action done through the workbench page in a real headless Chromium, checked through the API.

The first test is driven from the keyboard only (J/K, Enter, action letters, Tab, Ctrl+Enter, Esc); the others
use the mouse where it is simpler. Screenshots land in ``LINKAGE_SCREENSHOTS`` (default var/screenshots).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.dispatch.case.cli import write_corrections
from services.intake.places import default_places
from services.intake.seeds.channels import demo_workers
from shared.catalog import default_catalog
from tests.e2e.channels_support import DEMO
from tests.e2e.pages_support import demo_keys
from tests.e2e.workbench_support import (
    CHROMIUM,
    case,
    chromium_page,
    handler_act,
    login,
    new_case,
    pick_row,
    shot,
    wait_message,
)
from tests.support import Infra, Stack, wait_until

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium)"
)
CATALOG = default_catalog()


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    return demo_keys(infra)


def done(page: Any, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#act-msg")).to_have_text(text)
    expect(page.locator("#dlg")).not_to_have_attribute("open", "")


def test_keyboard_return_review_arbitrate_reassign_whistle_suspend_correct_urge(
    stack: Stack, infra: Infra, keys: dict[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    dk, cgj = keys["dispatcher"]["ZX"], keys["handler"]["CGJ"]
    p = new_case(stack, dk, "CG008", "运渣车晚上拉土一路洒，早上整条街全是泥点子")
    assert (p["state"], p["lead"]) == ("dispatched", "CGJ"), p
    handler_act(stack, cgj, p["id"], "return", {"reason": "该路段属街道日常保洁范围"})
    street = p["street_code"]
    street_name = CATALOG.department(street).name

    with chromium_page(1280) as page:
        login(page, f"{stack.url('dispatch')}/workbench", dk)
        page.keyboard.press("2")  # 审核
        expect(page.locator("#tabs button.on")).to_contain_text("审核")
        pick_row(page, p["id"])
        page.keyboard.press("Enter")
        expect(page.locator("#detail-state")).to_have_text("退单待审")
        expect(page.locator("#detail")).to_contain_text("该路段属街道日常保洁范围")

        # Y: 同意退单 — the reason box has the focus; Ctrl+Enter confirms
        page.keyboard.press("y")
        expect(page.locator("#dlg-title")).to_contain_text("同意退单")
        expect(page.locator("#in-reason")).to_be_focused()
        page.keyboard.type("同意，按职责裁定")
        page.keyboard.press("Control+Enter")
        done(page, "已同意退单。")
        expect(page.locator("#detail-state")).to_have_text("待派单")

        # A: 职责裁定 with the catalog's responsibility texts; Esc closes without acting, A again
        page.keyboard.press("a")
        expect(page.locator("#quotes")).to_contain_text(CATALOG.matter("CG008").responsibility[:20])
        page.keyboard.press("Escape")
        expect(page.locator("#dlg")).not_to_have_attribute("open", "")
        assert case(stack, dk, p["id"])["state"] == "triage"
        page.keyboard.press("a")
        expect(page.locator("#lead")).to_be_focused()
        page.select_option("#lead", street)
        expect(page.locator("#quotes")).to_contain_text(CATALOG.matter("CG008").name)
        for _ in range(4):  # 事项, the responsibility texts (a scroll box), 裁定理由
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "in-reason":
                break
        expect(page.locator("#in-reason")).to_be_focused()
        page.keyboard.type("路面保洁属街道职责")
        page.keyboard.press("Control+Enter")
        done(page, "已职责裁定。")
        expect(page.locator("#detail-state")).to_have_text("待签收")
        expect(page.locator("#detail-handlers")).to_contain_text(street_name)
        ruled = case(stack, dk, p["id"])
        assert ruled["lead"] == street and ruled["history"][-1]["details"]["responsibility"]

        # D: 改派 to a lead with co-handlers; the form starts from the case's own handlers
        page.keyboard.press("d")
        expect(page.locator("#in-matter-filter")).to_be_focused()
        expect(page.locator("#lead")).to_have_value(street)
        page.keyboard.type("渣土")  # the filter keeps the case's matter, which matches
        expect(page.locator("#in-matter")).to_have_value("CG008")
        page.select_option("#lead", "CGJ")
        for co in ("JJDD", "ZJJ", "JTJ"):
            page.check(f"input[name='co'][value='{co}']")
        page.keyboard.press("Control+Enter")
        done(page, "已改派。")
        routed = case(stack, dk, p["id"])
        assert routed["lead"] == "CGJ" and {"JJDD", "ZJJ", "JTJ"} <= set(routed["co_handlers"]), routed
        expect(page.locator("#detail-handlers")).to_contain_text("交通运输局")

        # W: 吹哨 — the 30-minute report board; a department reports; R reloads
        page.keyboard.press("w")
        page.check("input[name='dep'][value='HBJ']")
        page.keyboard.press("Control+Enter")
        done(page, "已吹哨。")
        board = page.locator("#whistle-board")
        expect(board).to_contain_text("吹哨报到（30分钟内）")
        expect(board.locator("tr[data-dept='HBJ']")).to_contain_text("未报到")
        expect(board).to_contain_text("剩余")
        handler_act(stack, keys["handler"]["HBJ"], p["id"], "report", {"note": "已到场查看"})
        page.locator("#detail").focus()
        page.keyboard.press("r")
        expect(board.locator("tr[data-dept='HBJ']")).to_contain_text("已报到")

        # P: 挂起, then P: 恢复办理
        page.keyboard.press("p")
        page.keyboard.type("等待渣土运输企业提供车辆信息")
        page.keyboard.press("Control+Enter")
        done(page, "已挂起。")
        expect(page.locator("#detail-state")).to_have_text("已挂起")
        expect(page.locator("#detail .sla").first).to_have_text("已挂起，停止计时")
        page.keyboard.press("p")
        page.keyboard.press("Control+Enter")
        done(page, "已恢复办理。")
        expect(page.locator("#detail-state")).to_have_text("待签收")

        # C: 更正分类 (kept as a labelled example)
        page.keyboard.press("c")
        expect(page.locator("#in-kind")).to_be_focused()
        page.select_option("#in-kind", "求助")
        page.keyboard.press("Control+Enter")
        done(page, "已更正分类。")
        expect(page.locator("#detail-category")).to_contain_text("（求助）")

        # U: 催办, S: 督办 (the notices go to the department)
        page.keyboard.press("u")
        page.keyboard.type("请今天签收")
        page.keyboard.press("Control+Enter")
        done(page, "已催办。")
        page.keyboard.press("s")
        page.keyboard.press("Control+Enter")
        done(page, "已督办。")
        expect(page.locator("#detail-history")).to_contain_text("督办")
        shot(page, "workbench-keyboard-1280")

    final = case(stack, dk, p["id"])
    actions = [h["action"] for h in final["history"]]
    for action in ("return_approved", "arbitrated", "reassigned", "whistled", "reported", "suspended", "resumed"):
        assert action in actions, actions
    assert actions[-3:] == ["corrected", "urged", "supervised"], actions
    assert final["kind"] == "求助"
    notice = wait_message(stack, p["tracking_code"], "supervise")
    body = notice["body"]
    assert len(body) <= 70 and body.endswith("。"), body
    assert not re.search(r"[A-Za-z]{3,}", body.replace(p["tracking_code"], "")), body

    out = io.StringIO()
    asyncio.run(write_corrections(infra.settings(), out))
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {"text": p["text"], "kind": "求助", "category": "CG", "emergency": None} in rows


def test_extension_and_return_reviews(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    from playwright.sync_api import expect

    dk, cgj = keys["dispatcher"]["ZX"], keys["handler"]["CGJ"]
    q = new_case(stack, dk, "CG003", "隔壁楼顶新搭了一层铁皮房，每天晚上还在敲敲打打")
    q2 = new_case(stack, dk, "CG013", "小区后面空地有人焚烧落叶和垃圾，烟很呛")
    r = new_case(stack, dk, "CG009", "商铺门头大招牌一边已经脱落，风一吹晃得厉害")
    for x in (q, q2):
        handler_act(stack, cgj, x["id"], "sign")
        handler_act(stack, cgj, x["id"], "extension", {"days": 4, "reason": "需联系产权单位现场核实"})
    handler_act(stack, cgj, r["id"], "return", {"reason": "招牌属商户自有，应由街道督促整改"})

    with chromium_page(1440) as page:
        login(page, f"{stack.url('dispatch')}/workbench", dk)
        page.click("#tabs button[data-tab='approvals']")
        page.click(f"tr[data-id='{q['id']}']")
        expect(page.locator("#detail")).to_contain_text("延期申请：4个工作日")
        page.click("#actions button[data-act='approve_extension']")
        page.fill("#in-days", "3")
        page.fill("#in-reason", "同意延期3个工作日")
        page.click("#confirm")
        done(page, "已批准延期。")
        page.click(f"tr[data-id='{q2['id']}']")
        page.click("#actions button[data-act='deny_extension']")
        page.click("#confirm")  # a refusal needs its reason: the dialog says so and stays open
        expect(page.locator("#dlg-msg")).to_contain_text("请填写必填项")
        page.fill("#in-reason", "可在原时限内办结")
        page.click("#confirm")
        done(page, "已驳回延期。")
        page.click(f"tr[data-id='{r['id']}']")
        page.click("#actions button[data-act='deny_return']")
        page.fill("#in-reason", "门头招牌安全隐患由城管执法局查处")
        page.click("#confirm")
        done(page, "已驳回退单。")
        expect(page.locator("#detail-state")).to_have_text("待签收")
        shot(page, "workbench-approvals-1440")

    approved, denied, kept = case(stack, dk, q["id"]), case(stack, dk, q2["id"]), case(stack, dk, r["id"])
    assert (approved["extension_status"], approved["extension_days"]) == ("approved", 3)
    assert denied["extension_status"] == "denied"
    assert (kept["state"], kept["lead"]) == ("dispatched", "CGJ")


def test_survey_reopen_verify_close(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    from playwright.sync_api import expect

    dk, cgj = keys["dispatcher"]["ZX"], keys["handler"]["CGJ"]
    f = new_case(stack, dk, "CG017", "公园旁边的公厕洗手池一直没水，地面也很脏")
    handler_act(stack, cgj, f["id"], "sign")
    handler_act(stack, cgj, f["id"], "reply", {"text": "已恢复供水，保洁每日两次。"})

    worker = demo_workers(DEMO, 12)[11]
    index = default_places().index
    lon, lat = index.centroid(worker["grids"][0])  # type: ignore[misc]
    report = httpx.post(
        f"{stack.url('intake')}/api/v1/grid/reports",
        json={
            "matter_code": "CG006",
            "text": "垃圾分类亭四个桶混装，清运车也混着拉走",
            "lon": lon,
            "lat": lat,
            "solved_on_spot": False,
            "client_request_id": str(uuid.uuid4()),
        },
        headers={"X-Worker-Token": worker["token"]},
        timeout=10,
    )
    assert report.status_code == 201, report.text
    found = wait_until(
        lambda: httpx.get(
            f"{stack.url('dispatch')}/api/v1/dispatch/cases",
            headers={"X-API-Key": dk},
            params={"complaint_id": report.json()["id"]},
        ).json()["items"],
        message="grid case in dispatch",
    )
    g = found[0]
    assert g["channel"] == "grid" and g["state"] == "dispatched", g
    lead_key = keys["handler"][g["lead"]]
    handler_act(stack, lead_key, g["id"], "sign")
    handler_act(stack, lead_key, g["id"], "reply", {"text": "已约谈清运公司，分类收运恢复。"})

    with chromium_page(1280) as page:
        login(page, f"{stack.url('dispatch')}/workbench", dk)
        page.click("#tabs button[data-tab='all']")
        page.fill("#f-code", f["tracking_code"])
        page.keyboard.press("Enter")
        page.click(f"tr[data-id='{f['id']}']")
        expect(page.locator("#detail-state")).to_have_text("已办结")
        page.keyboard.press("f")  # 回访结果 (by phone)
        page.select_option("#in-result", "满意")
        page.fill("#in-reason", "电话回访，市民表示满意")
        page.click("#confirm")
        done(page, "已回访。")
        expect(page.locator("#detail-state")).to_have_text("已结案")
        page.keyboard.press("e")  # 重办
        page.fill("#in-reason", "市民再次来电反映仍无水")
        page.click("#confirm")
        done(page, "已重办。")
        expect(page.locator("#detail-state")).to_have_text("办理中")

        page.fill("#f-code", g["tracking_code"])
        page.click("#search")
        page.click(f"tr[data-id='{g['id']}']")
        expect(page.locator("#detail-category")).to_contain_text("网格员上报")
        page.keyboard.press("v")  # 核查
        page.check("input[name='passed'][value='1']")
        page.fill("#in-reason", "网格员现场核查，已分类收运")
        page.click("#confirm")
        done(page, "已核查。")
        expect(page.locator("#detail-state")).to_have_text("已核查")
        page.keyboard.press("z")  # 结案
        page.click("#confirm")
        done(page, "已结案。")
        expect(page.locator("#detail-state")).to_have_text("已结案")

    assert case(stack, dk, f["id"])["state"] == "signed"
    assert case(stack, dk, g["id"])["state"] == "closed"


def test_merge_unmerge_then_dispatch(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    from playwright.sync_api import expect

    dk = keys["dispatcher"]["ZX"]
    master = new_case(stack, dk, "CG007", "河堤边的空地又被人倒了几车装修垃圾")
    dup = new_case(stack, dk, "HB002", "楼下烧烤店油烟直接往楼上窜，窗户都不敢开")

    with chromium_page(1280) as page:
        login(page, f"{stack.url('dispatch')}/workbench", dk)
        page.click("#tabs button[data-tab='all']")
        page.fill("#f-code", dup["tracking_code"])
        page.keyboard.press("Enter")
        page.click(f"tr[data-id='{dup['id']}']")
        expect(page.locator("#detail-code")).to_have_text(dup["tracking_code"])
        page.keyboard.press("m")
        expect(page.locator("#in-master")).to_be_focused()
        page.keyboard.type(master["tracking_code"].lower())
        page.keyboard.press("Control+Enter")
        done(page, "已并单。")
        expect(page.locator("#detail-state")).to_have_text("已并单")
        expect(page.locator("#detail-master")).to_contain_text(master["tracking_code"])
        page.keyboard.press("x")  # 取消并单
        page.keyboard.type("两件诉求并非同一问题")
        page.keyboard.press("Control+Enter")
        done(page, "已取消并单。")
        expect(page.locator("#detail-state")).to_have_text("待派单")
        page.keyboard.press("d")
        page.select_option("#lead", "CGJ")
        page.check("input[name='co'][value='HBJ']")
        page.click("#confirm")
        done(page, "已派单。")
        expect(page.locator("#detail-state")).to_have_text("待签收")
        shot(page, "workbench-merge-1280")

    back = case(stack, dk, dup["id"])
    assert back["merged_into"] is None and back["lead"] == "CGJ" and "HBJ" in back["co_handlers"]
    assert [h["action"] for h in back["history"]][-3:] == ["merged", "unmerged", "dispatched"]
    unmerged = wait_message(stack, dup["tracking_code"], "unmerged")
    assert "恢复单独办理" in unmerged["body"]
    tracked = httpx.get(f"{stack.url('dispatch')}/api/v1/track/{dup['tracking_code']}", timeout=10).json()
    assert [e["label"] for e in tracked["history"]][-3:] == ["已并单", "恢复单独办理", "已派单"], tracked
    assert tracked["merged_into"] is None
