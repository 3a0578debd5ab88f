"""WeChat bookkeeping: every accepted message (idempotency + the reply it got) and pending media fetches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Identity, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class WechatMessage(Base):
    """One accepted callback message, keyed by ``MsgId`` (events: ``FromUserName:CreateTime:Event``)."""

    __tablename__ = "wechat_messages"

    msg_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64))
    msg_type: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(24))
    complaint_id: Mapped[str | None] = mapped_column(String(26))
    needs_location: Mapped[bool] = mapped_column(Boolean, default=False)
    reply: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_wechat_messages_openid_created", "openid", "created_at"),)


class MediaFetch(Base):
    """A photo known by URL/MediaId only; a worker fetches it into the blob store later."""

    __tablename__ = "media_fetches"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    complaint_id: Mapped[str] = mapped_column(String(26))
    channel: Mapped[str] = mapped_column(String(16))
    media_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    blob_sha256: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_media_fetches_status_created", "status", "created_at"),)


class WechatNonce(Base):
    """A (nonce, timestamp) pair of an accepted callback: seen again within the time window → a replay.

    In PostgreSQL so every intake replica refuses a replay another one accepted; rows older than the window
    are purged (a timestamp that old is refused by the window check anyway).
    """

    __tablename__ = "wechat_nonces"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    body_sha256: Mapped[str] = mapped_column(String(64), server_default="")  # WeChat retries send the same body
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
