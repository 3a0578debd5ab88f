"""Replay protection for ``/wechat/callback`` (plain and safe/AES mode alike).

A signature only proves that whoever sent the request knew the token at some time. So a callback is also
refused when its ``timestamp`` is more than ``LINKAGE_WECHAT_TIMESTAMP_WINDOW_S`` (300 s) away from our
clock, and when its (``nonce``, ``timestamp``) pair — and so its signature — was accepted before with another
body. WeChat itself retries a callback it got no answer to with the very same query and body: that retry
is let through, and the message's MsgId idempotency answers it with the stored reply. The pairs
live in ``wechat_nonces`` (PostgreSQL, shared by every replica), written in the same transaction as the
message's effects: a callback that failed (e.g. a 503) leaves no trace and WeChat's retry is accepted.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channels.wechat.models import WechatNonce

PURGE_ONE_IN = 50  # callbacks; each purge deletes only pairs older than the window


class ReplayError(Exception):
    """The callback is stale, from the future, or seen before (403)."""


def check_timestamp(timestamp: str, window_s: int, now: float | None = None) -> int:
    """The timestamp as an int, if within ``window_s`` of ``now``; else :class:`ReplayError`."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise ReplayError("timestamp is not a Unix time")
    value = int(timestamp)
    now = time.time() if now is None else now
    if abs(now - value) > window_s:
        raise ReplayError(f"timestamp outside the accepted window of ±{window_s} s")
    return value


async def remember(session: AsyncSession, nonce: str, timestamp: int, window_s: int, body: bytes = b"") -> None:
    """Record the pair (flushed, committed with the message); :class:`ReplayError` if it was seen before with
    a different body (the same body is WeChat's own retry).

    A concurrent request with the same pair waits on the row lock and is judged once this one commits."""
    digest = hashlib.sha256(body).hexdigest()
    stmt = insert(WechatNonce).values(nonce=nonce, timestamp=timestamp, body_sha256=digest).on_conflict_do_nothing()
    inserted = (await session.execute(stmt.returning(WechatNonce.nonce))).scalar_one_or_none()
    if inserted is None:
        seen = (
            await session.execute(
                select(WechatNonce.body_sha256).where(WechatNonce.nonce == nonce, WechatNonce.timestamp == timestamp)
            )
        ).scalar_one_or_none()
        if seen != digest:
            raise ReplayError("nonce and timestamp seen before with another body (replay)")
        return
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        await purge(session, window_s)


async def purge(session: AsyncSession, window_s: int, now: float | None = None) -> int:
    """Delete pairs whose timestamp is outside the window (they are refused by :func:`check_timestamp`)."""
    now = time.time() if now is None else now
    stmt = delete(WechatNonce).where(WechatNonce.timestamp < int(now) - window_s - 60)
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]
