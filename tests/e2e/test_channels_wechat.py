"""WeChat official-account callback through the running stack: signed plain and AES messages → complaint →
case in dispatch; MsgId retries; location follow-up as complaint.supplemented.v1; refusals store nothing."""

from __future__ import annotations

import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from services.intake.channels.wechat.crypto import SafeMode, make_signature
from services.intake.places import default_places, wgs84_to_gcj02
from tests.e2e.channels_support import (
    DEMO,
    case_for,
    cases_by_code,
    new_msg_id,
    post_wechat,
    query,
    reply_content,
    wechat_xml,
)
from tests.images import png
from tests.support import Infra, Stack, wait_until

CODE = re.compile(r"受理编号：?\s*([0-9A-Z]{12,20})")


def openid() -> str:
    return "o" + secrets.token_hex(12)


def complaint_by_code(infra: Infra, code: str) -> dict:
    rows = query(infra, "SELECT * FROM complaints WHERE tracking_code = :c", c=code)
    assert len(rows) == 1
    return rows[0]


def test_get_verification_plain_and_safe(stack: Stack) -> None:
    url = f"{stack.url('intake')}/wechat/callback"
    ts, nonce = str(int(time.time())), "12345"
    ok = httpx.get(
        url,
        params={
            "signature": make_signature(DEMO.wechat_token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": "echo-123",
        },
    )
    assert ok.status_code == 200 and ok.text == "echo-123"
    bad = httpx.get(url, params={"signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": "echo-123"})
    assert bad.status_code == 403
    safe = SafeMode(DEMO.wechat_token, DEMO.wechat_aes_key, DEMO.wechat_appid)
    from wechatpy.crypto import PrpCrypto

    encrypted = PrpCrypto(safe._crypto.key).encrypt("echo-456", DEMO.wechat_appid).decode()
    msg_sig = make_signature(DEMO.wechat_token, ts, nonce, encrypted)
    safe_ok = httpx.get(url, params={"msg_signature": msg_sig, "timestamp": ts, "nonce": nonce, "echostr": encrypted})
    assert safe_ok.status_code == 200 and safe_ok.text == "echo-456"


def test_plain_text_becomes_case_asks_location_and_location_supplements(stack: Stack, infra: Infra) -> None:
    user = openid()
    msg_id = new_msg_id()
    xml = wechat_xml(user, "text", msg_id, Content="小区门口的路灯坏了一个星期，晚上很黑")
    started = time.monotonic()
    first = post_wechat(stack, xml)
    assert time.monotonic() - started < 5
    assert first.status_code == 200, first.text
    content = reply_content(first)
    code = CODE.search(content).group(1)  # type: ignore[union-attr]
    assert "请发送位置" in content

    again = post_wechat(stack, xml)  # WeChat retry: same MsgId
    assert reply_content(again) == content
    complaint = complaint_by_code(infra, code)
    assert complaint["channel"] == "wechat" and complaint["channel_key"] == msg_id
    assert complaint["reporter"]["wechat_openid"] == user
    assert complaint["lon"] is None
    case = wait_until(lambda: case_for(stack, complaint["id"]), message="case in dispatch")
    assert case["tracking_code"] == code
    time.sleep(0.5)
    assert len(cases_by_code(stack, code)) == 1
    assert len(query(infra, "SELECT id FROM complaints WHERE channel='wechat' AND channel_key=:k", k=msg_id)) == 1

    # the citizen sends a location (GCJ-02): it completes the complaint
    index = default_places().index
    grid = index.grids()[5]
    lon, lat = index.centroid(grid.grid_code)  # type: ignore[misc]
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    loc_xml = wechat_xml(
        user,
        "location",
        new_msg_id(),
        Location_X=f"{gcj_lat:.6f}",
        Location_Y=f"{gcj_lon:.6f}",
        Scale="15",
        Label="成都市成华区某路",
    )
    loc = post_wechat(stack, loc_xml)
    assert loc.status_code == 200
    assert code in reply_content(loc) and "已补充" in reply_content(loc)
    assert reply_content(post_wechat(stack, loc_xml)) == reply_content(loc)  # retried location: same answer
    after = complaint_by_code(infra, code)
    assert after["grid_code"] == grid.grid_code
    assert abs(after["lon"] - lon) < 1e-5 and abs(after["lat"] - lat) < 1e-5  # converted back to WGS-84
    assert after["location_source"] == "wechat-gcj02"
    events = query(infra, "SELECT event_type FROM outbox WHERE key = :k ORDER BY seq", k=complaint["id"])
    assert [e["event_type"] for e in events] == [
        "cn.linkage.complaint.received.v1",
        "cn.linkage.complaint.supplemented.v1",
    ]
    # the supplement reaches the case in dispatch: it now knows its grid (属地)
    located = wait_until(
        lambda: (c := case_for(stack, complaint["id"])) and c["grid_code"] and c,
        message="the location supplement reaches the case",
    )
    assert located["grid_code"] == grid.grid_code and located["street_code"] == grid.street_code
    # nothing pending any more: a later location is only acknowledged
    late = post_wechat(stack, wechat_xml(user, "location", new_msg_id(), Location_X="30.67", Location_Y="104.08"))
    assert "请先用文字描述" in reply_content(late)


def test_aes_mode_message_becomes_case(stack: Stack, infra: Infra) -> None:
    user = openid()
    xml = wechat_xml(user, "text", new_msg_id(), Content="建设路菜市场门口占道经营，堵得走不动")
    r = post_wechat(stack, xml, aes=True)
    assert r.status_code == 200, r.text
    content = reply_content(r, aes=True)
    code = CODE.search(content).group(1)  # type: ignore[union-attr]
    complaint = complaint_by_code(infra, code)
    wait_until(lambda: case_for(stack, complaint["id"]), message="case in dispatch")


def test_voice_image_and_subscribe(stack: Stack, infra: Infra) -> None:
    user = openid()
    welcome = post_wechat(stack, wechat_xml(user, "event", None, Event="subscribe"))
    assert "欢迎关注" in reply_content(welcome)
    silent = post_wechat(stack, wechat_xml(user, "voice", new_msg_id(), MediaId="m-1", Format="amr"))
    assert "文字" in reply_content(silent)
    voice = post_wechat(
        stack,
        wechat_xml(
            user, "voice", new_msg_id(), MediaId="m-2", Format="amr", Recognition="楼下饭馆油烟太大，熏得没法开窗"
        ),
    )
    code = CODE.search(reply_content(voice)).group(1)  # type: ignore[union-attr]
    complaint = complaint_by_code(infra, code)
    assert "油烟" in complaint["text"]
    image = post_wechat(
        stack, wechat_xml(user, "image", new_msg_id(), PicUrl="http://mmbiz.qpic.cn/demo.jpg", MediaId="media-9")
    )
    assert code in reply_content(image)  # attached to the complaint just filed
    fetches = query(
        infra, "SELECT status, media_id, last_error FROM media_fetches WHERE complaint_id = :c", c=complaint["id"]
    )
    assert [(f["status"], f["media_id"]) for f in fetches] in ([("pending", "media-9")], [("failed", "media-9")])
    # the test stack fetches only from 127.0.0.1: a real WeChat host is refused without any request
    assert fetches[0]["status"] == "pending" or "LINKAGE_WECHAT_MEDIA_HOSTS" in fetches[0]["last_error"]
    assert complaint_by_code(infra, code)["attachments"][0]["url"] == "http://mmbiz.qpic.cn/demo.jpg"


def test_image_is_fetched_later_into_the_blob_store(stack: Stack, infra: Infra) -> None:
    photo = png(5, 4)

    class Photo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Photo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        user = openid()
        text = post_wechat(stack, wechat_xml(user, "text", new_msg_id(), Content="二仙桥东路人行道护栏被撞坏了"))
        code = CODE.search(reply_content(text)).group(1)  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{server.server_port}/wx/photo.png"
        image = post_wechat(stack, wechat_xml(user, "image", new_msg_id(), PicUrl=url, MediaId="media-10"))
        assert code in reply_content(image)
        complaint = complaint_by_code(infra, code)

        def fetched() -> list[dict]:
            rows = query(
                infra, "SELECT status, blob_sha256 FROM media_fetches WHERE complaint_id = :c", c=complaint["id"]
            )
            return rows if rows and rows[0]["status"] == "done" else []

        row = wait_until(fetched, message="the photo fetched into the blob store")[0]
        stored = httpx.get(f"{stack.url('intake')}/api/v1/blobs/{row['blob_sha256']}", timeout=10)
        assert stored.status_code == 200 and stored.content == photo
        attachments = complaint_by_code(infra, code)["attachments"]
        assert any(a.get("sha256") == row["blob_sha256"] and a["content_type"] == "image/png" for a in attachments)
        events = query(infra, "SELECT event_type FROM outbox WHERE key = :k ORDER BY seq", k=complaint["id"])
        assert [e["event_type"] for e in events][-1] == "cn.linkage.complaint.supplemented.v1"
    finally:
        server.shutdown()


def test_refusals_store_nothing(stack: Stack, infra: Infra) -> None:
    user = openid()
    msg_id = new_msg_id()
    xml = wechat_xml(user, "text", msg_id, Content="噪音扰民")
    forged = post_wechat(stack, xml, token="not-the-token")
    assert forged.status_code == 403
    unsigned = httpx.post(f"{stack.url('intake')}/wechat/callback", content=xml.encode())
    assert unsigned.status_code == 403
    for body in (
        "<xml><Content>no closing",
        "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><xml>&e;</xml>",
        wechat_xml(user, "text", None, Content="no MsgId"),
    ):
        bad = post_wechat(stack, body)
        assert bad.status_code == 400, body
        assert bad.text.startswith("bad message")
    huge = post_wechat(stack, wechat_xml(user, "text", new_msg_id(), Content="长" * 40_000))
    assert huge.status_code == 413
    assert query(infra, "SELECT count(*) AS n FROM wechat_messages WHERE openid = :o", o=user) == [{"n": 0}]
    assert query(infra, "SELECT id FROM complaints WHERE channel_key = :k", k=msg_id) == []
    assert post_wechat(stack, xml).status_code == 200  # the genuine message is accepted afterwards


def test_wechat_send_script_against_the_stack(stack: Stack, tmp_path, capsys) -> None:
    import asyncio
    import importlib.util
    import json

    from services.intake.seeds.channels import seed
    from tests.support import REPO

    manifest = tmp_path / "linkage-up.json"
    demo = asyncio.run(seed(DEMO))
    manifest.write_text(json.dumps({"services": {"intake": stack.url("intake")}, "demo": {"intake": demo}}))
    spec = importlib.util.spec_from_file_location("wechat_send", REPO / "scripts" / "wechat_send.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    user = openid()
    assert module.main(["--manifest", str(manifest), "--openid", user, "--aes", "小区电梯又坏了，老人上不了楼"]) == 0
    assert "受理编号" in capsys.readouterr().out
    assert module.main(["--manifest", str(manifest), "--openid", user, "--location", "30.6705,104.0838"]) == 0
    assert "已补充" in capsys.readouterr().out
