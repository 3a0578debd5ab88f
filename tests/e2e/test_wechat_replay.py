"""WeChat callback replays, through the running stack, in plain and safe (AES) mode: correctly signed
callbacks with a 1970, a month-old or a next-year timestamp are refused, and so is a (nonce, timestamp)
pair accepted before — even with another body. Refused callbacks store nothing."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import pytest

from services.intake.channels.wechat import replay
from services.intake.channels.wechat.crypto import make_signature
from shared.db import make_engine, make_sessionmaker
from tests.e2e.channels_support import DEMO, new_msg_id, post_wechat, query, reply_content, wechat_xml
from tests.support import Infra, Stack

MODES = [pytest.param(False, id="plain"), pytest.param(True, id="aes")]


def _user() -> str:
    return "o" + secrets.token_hex(12)


def _stored(infra: Infra, user: str) -> int:
    rows = query(infra, "SELECT count(*) AS n FROM wechat_messages WHERE openid = :o", o=user)
    return int(rows[0]["n"])


@pytest.mark.parametrize("aes", MODES)
def test_stale_and_future_timestamps_are_refused(stack: Stack, infra: Infra, aes: bool) -> None:
    user = _user()
    for label, offset in (
        ("now - 30 days", -30 * 86400),
        ("now + 1 year", 365 * 86400),
        ("now - 400 s", -400),
        ("now + 400 s", 400),
    ):
        xml = wechat_xml(user, "text", new_msg_id(), Content="小区门口路灯坏了")
        r = post_wechat(stack, xml, aes=aes, timestamp=str(int(time.time()) + offset))
        assert r.status_code == 403, (label, r.status_code, r.text)
        assert "success" not in r.text
    for label, raw in (("1970", "1"), ("not a number", "12x")):
        r = post_wechat(stack, wechat_xml(user, "text", new_msg_id(), Content="路灯坏了"), aes=aes, timestamp=raw)
        assert r.status_code == 403, (label, r.status_code, r.text)
    assert _stored(infra, user) == 0
    ok = post_wechat(
        stack,
        wechat_xml(user, "text", new_msg_id(), Content="小区门口路灯坏了"),
        aes=aes,
        timestamp=str(int(time.time()) - 200),
    )
    assert ok.status_code == 200  # within the window
    assert _stored(infra, user) == 1


def test_wechats_own_retry_of_the_same_request_gets_the_stored_reply(stack: Stack, infra: Infra) -> None:
    """WeChat resends a callback it got no answer to with the same query and body: not a replay."""
    user = _user()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    xml = wechat_xml(user, "text", new_msg_id(), Content="小区门口路灯坏了")
    first = post_wechat(stack, xml, timestamp=timestamp, nonce=nonce)
    again = post_wechat(stack, xml, timestamp=timestamp, nonce=nonce)
    assert first.status_code == again.status_code == 200, again.text
    assert reply_content(again) == reply_content(first)  # the stored reply (only CreateTime may differ)
    assert _stored(infra, user) == 1


@pytest.mark.parametrize("aes", MODES)
def test_a_nonce_is_accepted_once(stack: Stack, infra: Infra, aes: bool) -> None:
    user = _user()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    first = post_wechat(
        stack, wechat_xml(user, "text", new_msg_id(), Content="楼上漏水"), aes=aes, timestamp=timestamp, nonce=nonce
    )
    assert first.status_code == 200, first.text
    for content in ("楼上漏水", "另一条伪造的诉求", "第三条"):
        again = post_wechat(
            stack, wechat_xml(user, "text", new_msg_id(), Content=content), aes=aes, timestamp=timestamp, nonce=nonce
        )
        assert again.status_code == 403 and "replay" in again.text, again.text
    # the same nonce in the other mode is the same pair: refused too
    other = post_wechat(
        stack, wechat_xml(user, "text", new_msg_id(), Content="x"), aes=not aes, timestamp=timestamp, nonce=nonce
    )
    assert other.status_code == 403
    assert _stored(infra, user) == 1
    # a fresh nonce goes through
    assert post_wechat(stack, wechat_xml(user, "text", new_msg_id(), Content="又漏水了"), aes=aes).status_code == 200
    assert _stored(infra, user) == 2


def test_get_verification_refuses_old_timestamps(stack: Stack) -> None:
    url = f"{stack.url('intake')}/wechat/callback"
    old = str(int(time.time()) - 30 * 86400)
    params = {
        "signature": make_signature(DEMO.wechat_token, old, "n1"),
        "timestamp": old,
        "nonce": "n1",
        "echostr": "echo",
    }
    assert httpx.get(url, params=params).status_code == 403


def test_refused_callbacks_leave_no_nonce_and_old_nonces_are_purged(stack: Stack, infra: Infra) -> None:
    user = _user()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    bad = post_wechat(stack, "<xml><Content>no closing", timestamp=timestamp, nonce=nonce)
    assert bad.status_code == 400
    # the failed attempt did not burn the nonce: the genuine (re)try with it is accepted
    ok = post_wechat(
        stack, wechat_xml(user, "text", new_msg_id(), Content="井盖丢了"), timestamp=timestamp, nonce=nonce
    )
    assert ok.status_code == 200, ok.text

    async def purge() -> int:
        engine = make_engine(infra.settings(), "intake", pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                old = int(time.time()) - 3600
                await replay.remember(session, f"old-{nonce}", old, 300)
                return await replay.purge(session, 300)
        finally:
            await engine.dispose()

    assert asyncio.run(purge()) >= 1
    rows = query(infra, "SELECT nonce FROM wechat_nonces WHERE nonce IN (:a, :b)", a=nonce, b=f"old-{nonce}")
    assert [r["nonce"] for r in rows] == [nonce]
