"""Helpers for the channel end-to-end tests: signed WeChat messages, DB peeks, dispatch lookups."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
from sqlalchemy import text

from services.intake.channels.wechat.crypto import SafeMode, make_signature
from services.intake.channels.wechat.parse import parse_xml
from shared.db import make_engine
from shared.settings import Settings
from tests.support import Infra, Stack

DEMO = Settings()  # the stack runs with default channel settings (demo token, AES key, AppID, grid secret)


def wechat_xml(openid: str, msg_type: str, msg_id: str | None, **fields: str) -> str:
    parts = [
        "<xml>",
        "<ToUserName><![CDATA[gh_linkage_demo]]></ToUserName>",
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
        f"<CreateTime>{int(time.time())}</CreateTime>",
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
    ]
    parts += [f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()]
    if msg_id:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    parts.append("</xml>")
    return "".join(parts)


def new_msg_id() -> str:
    return str(secrets.randbelow(10**17) + 10**17)


def post_wechat(
    stack: Stack,
    xml: str,
    *,
    aes: bool = False,
    token: str = DEMO.wechat_token,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> httpx.Response:
    """A signed callback as WeChat sends it: the current time and a fresh nonce unless given."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    params = {"signature": make_signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    body = xml
    if aes:
        safe = SafeMode(DEMO.wechat_token, DEMO.wechat_aes_key, DEMO.wechat_appid)
        envelope = parse_xml(safe.encrypt(xml, nonce, timestamp).encode())
        params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        encrypt = envelope["Encrypt"]
        body = f"<xml><ToUserName>gh_linkage_demo</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return httpx.post(f"{stack.url('intake')}/wechat/callback", params=params, content=body.encode(), timeout=10)


def reply_content(response: httpx.Response, *, aes: bool = False) -> str:
    fields = parse_xml(response.content)
    if aes:
        safe = SafeMode(DEMO.wechat_token, DEMO.wechat_aes_key, DEMO.wechat_appid)
        inner = safe.decrypt(fields["Encrypt"], fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
        fields = parse_xml(inner.encode())
    return fields["Content"]


def cases_by_code(stack: Stack, code: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"tracking_code": code}, timeout=10)
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def case_for(stack: Stack, complaint_id: str) -> dict[str, Any] | None:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": complaint_id}, timeout=10)
    items = r.json()["items"]
    return items[0] if items else None


def query(infra: Infra, sql: str, **params: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = make_engine(infra.settings(), "intake", pool_size=1)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(text(sql), params)).mappings().all()
                return [dict(r) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(run())
