#!/usr/bin/env python3
"""Send a signed WeChat official-account message to a running Linkage (``make run`` / ``linkage up``).

Reads the intake URL and the demo account's token, EncodingAESKey and AppID from ``var/linkage-up.json``,
signs the message exactly as WeChat does (plain mode, or safe mode with ``--aes``) and prints the reply.

    .venv/bin/python scripts/wechat_send.py "小区门口井盖坏了"                # text → 受理编号, asks for a location
    .venv/bin/python scripts/wechat_send.py --location 30.6705,104.0838       # GCJ-02 lat,lon → completes it
    .venv/bin/python scripts/wechat_send.py --aes "楼下油烟太大"                # safe (AES) mode
    .venv/bin/python scripts/wechat_send.py --voice "路灯不亮"                  # voice with Recognition
    .venv/bin/python scripts/wechat_send.py --image http://example.com/a.jpg  # image (fetched later)
    .venv/bin/python scripts/wechat_send.py --subscribe                       # follow event → welcome
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import time
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def build_xml(openid: str, msg_type: str, msg_id: str | None, fields: dict[str, str]) -> str:
    body = [
        "<xml>",
        "<ToUserName><![CDATA[gh_linkage_demo]]></ToUserName>",
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
        f"<CreateTime>{int(time.time())}</CreateTime>",
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
        *(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items()),
        f"<MsgId>{msg_id}</MsgId>" if msg_id else "",
        "</xml>",
    ]
    return "".join(body)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", nargs="?", help="text message content")
    p.add_argument("--manifest", default=str(REPO / "var" / "linkage-up.json"))
    p.add_argument("--url", help="intake base URL (default: from the manifest)")
    p.add_argument("--openid", default="o-demo-citizen-0001", help="the citizen's OpenID (FromUserName)")
    p.add_argument("--msg-id", help="MsgId (default: random; repeat one to see idempotency)")
    p.add_argument("--aes", action="store_true", help="safe mode: encrypt the message (and decrypt the reply)")
    p.add_argument("--location", help="lat,lon in GCJ-02 (as WeChat sends Location_X, Location_Y)")
    p.add_argument("--voice", help="voice message with this Recognition text")
    p.add_argument("--image", help="image message with this PicUrl")
    p.add_argument("--subscribe", action="store_true", help="send the follow (subscribe) event")
    p.add_argument("--raw", action="store_true", help="print the raw HTTP response too")
    args = p.parse_args(argv)

    manifest = json.loads(Path(args.manifest).read_text())
    account = manifest["demo"]["intake"]["wechat"]
    base = args.url or manifest["services"]["intake"]
    msg_id = args.msg_id or str(secrets.randbelow(10**17) + 10**17)
    if args.subscribe:
        xml = build_xml(args.openid, "event", None, {"Event": "subscribe"})
    elif args.location:
        lat, lon = (s.strip() for s in args.location.split(","))
        xml = build_xml(
            args.openid, "location", msg_id, {"Location_X": lat, "Location_Y": lon, "Scale": "15", "Label": "我的位置"}
        )
    elif args.voice:
        xml = build_xml(
            args.openid, "voice", msg_id, {"MediaId": "demo-media", "Format": "amr", "Recognition": args.voice}
        )
    elif args.image:
        xml = build_xml(args.openid, "image", msg_id, {"PicUrl": args.image, "MediaId": "demo-media"})
    elif args.text:
        xml = build_xml(args.openid, "text", msg_id, {"Content": args.text})
    else:
        p.error("give a text, or --location/--voice/--image/--subscribe")

    # the current time and a fresh nonce: intake refuses other clocks (±300 s) and a nonce seen before
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    params = {"signature": signature(account["token"], timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    body = xml
    crypto = None
    if args.aes:
        from wechatpy.crypto import WeChatCrypto

        crypto = WeChatCrypto(account["token"], account["aes_key"], account["appid"])
        envelope = crypto.encrypt_message(xml, nonce, timestamp)
        encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]></Encrypt>")[0]
        params.update(encrypt_type="aes", msg_signature=signature(account["token"], timestamp, nonce, encrypt))
        body = (
            f"<xml><ToUserName><![CDATA[gh_linkage_demo]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )
    r = httpx.post(f"{base}/wechat/callback", params=params, content=body.encode(), timeout=10)
    if args.raw or r.status_code != 200:
        print(f"HTTP {r.status_code}\n{r.text}")
    if r.status_code != 200 or r.text == "success":
        return 0 if r.status_code == 200 else 1
    reply = r.text
    if crypto is not None:
        from defusedxml.ElementTree import fromstring

        env = fromstring(reply)
        reply = crypto.decrypt_message(
            {"Encrypt": env.findtext("Encrypt")},
            env.findtext("MsgSignature"),
            env.findtext("TimeStamp"),
            env.findtext("Nonce"),
        )
    from defusedxml.ElementTree import fromstring

    print(f"MsgId {msg_id} → {fromstring(reply).findtext('Content')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
