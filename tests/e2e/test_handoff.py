"""紧急警情转交 through running services: the webhook adapter against a local test platform.

The session's stack uses the development sink, so this module runs its own intake, dispatch and notify (own
database on the session's PostgreSQL, own topic and group prefixes on its broker) with the webhook adapter
pointed at a receiver in this process. The receiver answers by the marker in the complaint's text: ``失败一次``
(503, then 202 without a receipt: the platform calls back later), ``立即确认`` (200 with its receipt id) and
``不确认`` (202, never acknowledged: escalation).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from linkage.infra import drop_database, ensure_database
from services.dispatch.auth.service import create_key
from services.dispatch.handoff import signing
from shared.catalog import default_catalog
from shared.migrations import upgrade_all
from tests.support import REPO, Infra, ServiceProcess, Stack, create_operator, wait_until

SECRET = "e2e-handoff-platform-secret"
ACK_TIMEOUT_S = 15  # long enough for the tests that acknowledge in time, even on a busy machine


@dataclass
class Platform:
    """A stand-in for the joint 110/119/120/122 platform: records every signed document and answers by marker."""

    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = str(doc.get("text") or "")
        with self.lock:
            earlier = [d for d in self.received if d["handoff_id"] == doc["handoff_id"]]
            self.received.append(doc)
        if "失败一次" in text:
            return (503, {"error": "busy"}) if not earlier else (202, {"status": "queued"})
        if "立即确认" in text:
            return 200, {"receipt_id": f"JQ-{doc['tracking_code']}", "handled_by": "119消防救援指挥中心一号台"}
        return 202, {"status": "queued"}

    def documents(self, tracking_code: str) -> list[dict[str, Any]]:
        with self.lock:
            return [d for d in self.received if d["tracking_code"] == tracking_code]


def serve(platform: Platform) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            why = signing.verify(
                SECRET,
                self.headers.get(signing.TIMESTAMP_HEADER),
                self.headers.get(signing.SIGNATURE_HEADER),
                body,
                window_s=60,
            )
            if why is not None or self.headers.get("Idempotency-Key") is None:
                platform.bad_signatures += 1
                status, answer = 401, {"error": why or "no idempotency key"}
            else:
                status, answer = platform.answer(json.loads(body))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/intake"


def start_slow_stack(infra: Infra, env: dict[str, str]) -> Stack:
    """intake, dispatch and notify with ``env``; patient while the machine is busy (intake trains its classifier)."""
    services = {name: ServiceProcess(name, infra, extra_env=dict(env)) for name in ("intake", "dispatch", "notify")}
    for svc in services.values():
        svc.extra_env["LINKAGE_DISPATCH_URL"] = services["dispatch"].url
    stack = Stack(services)
    try:
        for svc in services.values():
            svc.start(wait=False)
        for svc in services.values():
            svc.wait_ready(timeout_s=300)
    except BaseException:
        stack.stop()
        raise
    stack.operator_key = create_operator(infra)[1]
    return stack


@dataclass
class Rig:
    stack: Stack
    platform: Platform
    dispatcher: dict[str, str]


@pytest.fixture(scope="module")
def rig(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tag = uuid.uuid4().hex[:8]
    name = f"linkage_handoff_{tag}"
    ensure_database(infra.admin_url, name)
    base, sep, query = infra.database_url.partition("?")
    own = Infra(
        database_url=f"{base.rpartition('/')[0]}/{name}{sep}{query}",
        admin_url=infra.admin_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=f"h{tag}.",
        group_prefix=f"h{tag}.",
        workdir=Path(tmp_path_factory.mktemp("handoff")),
    )
    platform = Platform()
    server, url = serve(platform)
    stack = None
    try:
        upgrade_all(own.settings())
        env = {
            "LINKAGE_HANDOFF_ADAPTER": "webhook",
            "LINKAGE_HANDOFF_WEBHOOK_URL": url,
            "LINKAGE_HANDOFF_WEBHOOK_SECRET": SECRET,
            "LINKAGE_HANDOFF_ACK_TIMEOUT_S": str(ACK_TIMEOUT_S),
            "LINKAGE_HANDOFF_BACKOFF_S": "0.3",
            "LINKAGE_HANDOFF_POLL_INTERVAL_S": "0.2",
        }
        stack = start_slow_stack(own, env)
        key = asyncio.run(create_key(own.settings(), role="dispatcher", department=default_catalog().center().code))
        yield Rig(stack, platform, {"X-API-Key": key})
    finally:
        if stack is not None:
            stack.stop()
        server.shutdown()
        drop_database(infra.admin_url, name)


def file_fire(rig: Rig, marker: str) -> dict[str, Any]:
    r = httpx.post(
        f"{rig.stack.url('intake')}/api/v1/complaints",
        headers=rig.stack.operator_headers,
        json={
            "call_id": f"handoff-{uuid.uuid4()}",
            "caller_phone": "13912340000",
            "caller_name": "李女士",
            "kind": "求助",
            "matter_code": "JJ001",
            "text": f"楼下厨房着火了，浓烟很大（{marker}）",
            "address": "成华区建设路12号",
        },
        timeout=15,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def handoff_of(rig: Rig, complaint: dict[str, Any]) -> dict[str, Any]:
    dispatch = rig.stack.url("dispatch")

    def case() -> dict[str, Any] | None:
        r = httpx.get(
            f"{dispatch}/api/v1/dispatch/cases", headers=rig.dispatcher, params={"complaint_id": complaint["id"]}
        )
        items = r.json()["items"] if r.status_code == 200 else []
        return items[0] if items else None

    found = wait_until(case, timeout_s=30, message="the emergency's case")
    assert found["state"] == "transferred"

    def listed() -> dict[str, Any] | None:
        r = httpx.get(f"{dispatch}/api/v1/dispatch/handoffs", headers=rig.dispatcher, params={"case_id": found["id"]})
        items = r.json()["items"]
        return items[0] if items else None

    return dict(wait_until(listed, timeout_s=15, message="the hand-off"))


def get_handoff(rig: Rig, handoff_id: str, case_id: str) -> dict[str, Any]:
    r = httpx.get(
        f"{rig.stack.url('dispatch')}/api/v1/dispatch/handoffs", headers=rig.dispatcher, params={"case_id": case_id}
    )
    assert r.status_code == 200, r.text
    return next(h for h in r.json()["items"] if h["id"] == handoff_id)


def history(rig: Rig, case_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{rig.stack.url('dispatch')}/api/v1/dispatch/cases/{case_id}", headers=rig.dispatcher)
    return list(r.json()["history"])


def signed_ack(url: str, body: dict[str, Any], secret: str = SECRET) -> httpx.Response:
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **signing.signed_headers(secret, raw)}
    return httpx.post(url, content=raw, headers=headers, timeout=10)


def test_failed_push_is_retried_then_acknowledged_by_callback(rig: Rig) -> None:
    complaint = file_fire(rig, "失败一次")
    handoff = handoff_of(rig, complaint)
    code, case_id = complaint["tracking_code"], handoff["case_id"]
    wait_until(lambda: len(rig.platform.documents(code)) >= 2, timeout_s=20, message="a second push after the 503")
    sent = wait_until(
        lambda: (h := get_handoff(rig, handoff["id"], case_id))["state"] == "sent" and h,
        timeout_s=10,
        message="the hand-off taken by the platform",
    )
    assert sent["attempts"] == 2 and sent["acknowledged_at"] is None and sent["adapter"] == "webhook"
    assert sent["status_text"] == "已推送至119消防救援指挥中心，等待接警确认"
    first, second = rig.platform.documents(code)[:2]
    assert first["handoff_id"] == second["handoff_id"] == handoff["id"]
    assert first["service"] == "119" and "着火" in first["text"] and first["reporter"]["phone"] == "13912340000"
    assert rig.platform.bad_signatures == 0

    unacked = httpx.get(
        f"{rig.stack.url('dispatch')}/api/v1/dispatch/handoffs",
        headers=rig.dispatcher,
        params={"state": "unacknowledged"},
    ).json()
    assert handoff["id"] in [h["id"] for h in unacked["items"]] and unacked["adapter"] == "webhook"

    ack_url = first["ack_url"]
    assert ack_url.startswith(rig.stack.url("dispatch"))
    assert signed_ack(ack_url, {"receipt_id": "JQ-1"}, secret="guessed").status_code == 401
    assert httpx.post(ack_url, json={"receipt_id": "JQ-1"}).status_code == 401
    ok = signed_ack(ack_url, {"receipt_id": "JQ-119-0001", "handled_by": "119消防救援指挥中心二号台"})
    assert ok.status_code == 200 and ok.json()["status"] == "acknowledged", ok.text
    assert ok.json()["handoff"]["receipt_id"] == "JQ-119-0001"
    again = signed_ack(ack_url, {"receipt_id": "JQ-119-0001"})
    assert again.status_code == 200 and again.json()["status"] == "already_acknowledged"

    lines = {h["action"]: h for h in history(rig, case_id)}
    assert "第2次推送成功" in (lines["handoff_sent"]["reason_text"] or "")
    assert lines["handoff_acknowledged"]["reason_text"].startswith("119消防救援指挥中心二号台已确认接警")
    assert lines["handoff_acknowledged"]["actor_name"] == "警情转交"

    def citizen_messages() -> list[dict[str, Any]]:
        r = httpx.get(f"{rig.stack.url('notify')}/dev/messages", params={"tracking_code": code})
        return list(r.json()) if r.status_code == 200 else []

    messages = wait_until(citizen_messages, timeout_s=20, message="the citizen's first message")
    first_message = sorted(messages, key=lambda m: m["created_at"])[0]
    assert "已于" in first_message["body"] and "转交119消防救援指挥中心处置" in first_message["body"]
    assert all("按时限办理" not in m["body"] for m in messages)


def test_platform_answer_with_receipt_acknowledges_at_once(rig: Rig) -> None:
    complaint = file_fire(rig, "立即确认")
    handoff = handoff_of(rig, complaint)
    done = wait_until(
        lambda: (h := get_handoff(rig, handoff["id"], handoff["case_id"]))["acknowledged_at"] and h,
        timeout_s=20,
        message="acknowledged by the platform's answer",
    )
    assert done["state"] == "acknowledged" and done["receipt_id"] == f"JQ-{complaint['tracking_code']}"
    assert done["acknowledged_by"] == "119消防救援指挥中心一号台" and done["escalations"] == 0
    actions = [h["action"] for h in history(rig, handoff["case_id"])]
    assert actions[-3:] == ["transferred", "handoff_sent", "handoff_acknowledged"]


def test_not_acknowledged_in_time_escalates_and_is_resent(rig: Rig) -> None:
    complaint = file_fire(rig, "不确认")
    handoff = handoff_of(rig, complaint)
    code = complaint["tracking_code"]
    escalated = wait_until(
        lambda: (h := get_handoff(rig, handoff["id"], handoff["case_id"]))["escalations"] >= 1 and h,
        timeout_s=ACK_TIMEOUT_S * 4,
        message="an escalation",
    )
    assert escalated["alert_level"] == 2 and escalated["alert_name"] == "二级"
    assert escalated["acknowledged_at"] is None
    resent = wait_until(
        lambda: [d for d in rig.platform.documents(code) if d["alert_level"] == 2],
        timeout_s=10,
        message="the document re-sent with the raised alert level",
    )
    assert resent[0]["escalations"] >= 1
    line = next(h for h in history(rig, handoff["case_id"]) if h["action"] == "handoff_escalated")
    assert line["line"] == "转交未确认升级：警示升至二级"
    assert "未收到接警确认" in line["reason_text"] and "警示升至二级" in line["reason_text"]
    waiting = httpx.get(
        f"{rig.stack.url('dispatch')}/api/v1/dispatch/handoffs",
        headers=rig.dispatcher,
        params={"state": "unacknowledged"},
    ).json()
    mine = next(h for h in waiting["items"] if h["id"] == handoff["id"])
    assert mine["alert_level"] >= 2 and waiting["unacknowledged"] >= 1

    r = httpx.post(
        f"{rig.stack.url('dispatch')}/api/v1/dispatch/handoffs/{handoff['id']}/acknowledge",
        headers=rig.dispatcher,
        json={"note": "已电话确认，接警员1024", "receipt_id": "119-PHONE-1"},
    )
    assert r.status_code == 200 and r.json()["status"] == "acknowledged", r.text
    after = httpx.get(
        f"{rig.stack.url('dispatch')}/api/v1/dispatch/handoffs",
        headers=rig.dispatcher,
        params={"state": "unacknowledged"},
    ).json()
    assert handoff["id"] not in [h["id"] for h in after["items"]]
    last = history(rig, handoff["case_id"])[-1]
    assert last["action"] == "handoff_acknowledged" and "电话确认" in (last["reason_text"] or "")
    assert last["actor_name"].endswith("派单员")


CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium (apt-get install chromium)")


@needs_chromium
def test_workbench_alerts_until_acknowledged(rig: Rig) -> None:
    from playwright.sync_api import expect, sync_playwright

    complaint = file_fire(rig, "不确认")
    handoff = handoff_of(rig, complaint)
    code = complaint["tracking_code"]
    shots = REPO / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(f"{rig.stack.url('dispatch')}/workbench")
            page.fill("#key", rig.dispatcher["X-API-Key"])
            page.click("#login-btn")
            alert = page.locator("#handoff-alert")
            expect(alert).to_be_visible(timeout=15_000)
            expect(alert).to_contain_text("紧急警情待确认接警")
            mine = alert.locator(".handoff", has_text=code)
            expect(mine).to_contain_text("转交119消防救援指挥中心")
            for width in (1280, 1440, 1920):
                page.set_viewport_size({"width": width, "height": 900})
                page.screenshot(path=str(shots / f"workbench-handoff-alert-{width}.png"))
            mine.locator("button").click()
            expect(alert.locator(".handoff", has_text=code)).to_have_count(0, timeout=15_000)
        finally:
            browser.close()
    done = get_handoff(rig, handoff["id"], handoff["case_id"])
    assert done["acknowledged_at"] is not None and "电话确认" in (done["acknowledged_by"] or "")


@needs_chromium
def test_development_sink_acknowledges_and_shows_it(stack: Stack, infra: Infra) -> None:
    """The session's stack runs as `linkage up` does: the development sink takes the hand-off and acknowledges it
    after its delay; its page lists what it received."""
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.pages_support import demo_keys

    key = {"X-API-Key": demo_keys(infra)["dispatcher"][default_catalog().center().code]}
    sink_rig = Rig(stack, Platform(), key)
    complaint = file_fire(sink_rig, "开发模拟")
    handoff = handoff_of(sink_rig, complaint)
    done = wait_until(
        lambda: (h := get_handoff(sink_rig, handoff["id"], handoff["case_id"]))["acknowledged_at"] and h,
        timeout_s=60,  # the session stack's sink waits LINKAGE_HANDOFF_SINK_ACK_DELAY_S (tests/conftest.py)
        message="the sink's acknowledgement",
    )
    assert done["adapter"] == "sink" and (done["acknowledged_by"] or "").endswith("（开发模拟）")
    assert (done["receipt_id"] or "").startswith("DEV")
    records = httpx.get(f"{stack.url('dispatch')}/api/v1/dispatch/handoffs/sink", headers=key).json()
    mine = [r for r in records if r["handoff_id"] == handoff["id"]]
    assert mine and mine[0]["document"]["tracking_code"] == complaint["tracking_code"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page.goto(f"{stack.url('dispatch')}/dev/handoffs")
            page.fill("#key", key["X-API-Key"])
            page.click("button[type=submit]")
            expect(page.locator("#handoffs")).to_contain_text(complaint["tracking_code"], timeout=15_000)
            expect(page.locator("#handoffs")).to_contain_text("已确认接警")
            expect(page.locator("#sink")).to_contain_text("119消防救援指挥中心")
            page.screenshot(path=str(REPO / "var" / "screenshots" / "dev-handoffs.png"), full_page=True)
        finally:
            browser.close()
