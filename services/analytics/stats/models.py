"""Projections of the case stream (analytics schema; rebuilt by replaying ``linkage.dispatch.cases.v1``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Identity, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class DailyCount(Base):
    """How many case events of one action happened on one day (Asia/Shanghai) per dimension."""

    __tablename__ = "daily_counts"

    day: Mapped[date] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(30))
    category: Mapped[str] = mapped_column(String(4))
    channel: Mapped[str] = mapped_column(String(16))
    street_code: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (PrimaryKeyConstraint("day", "action", "category", "channel", "street_code"),)


class GridDailyCount(Base):
    """Cases created per grid, category and day (Asia/Shanghai): hot spots and open data."""

    __tablename__ = "grid_daily_counts"

    day: Mapped[date] = mapped_column(Date)
    grid_code: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(4))
    street_code: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (PrimaryKeyConstraint("day", "grid_code", "category"),)


class CaseStatus(Base):
    """The latest known state of each case, folded from its events (no text, no personal data)."""

    __tablename__ = "case_status"

    case_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    is_open: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(4))
    street_code: Mapped[str] = mapped_column(String(20))
    grid_code: Mapped[str] = mapped_column(String(20))
    lead: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_on_time: Mapped[bool | None] = mapped_column(Boolean)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warn_level: Mapped[str | None] = mapped_column(String(12))
    urged: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[int] = mapped_column(Integer, default=0)
    publicized: Mapped[bool] = mapped_column(Boolean, default=False)
    last_action: Mapped[str] = mapped_column(String(30))
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_case_status_open_deadline", "is_open", "deadline_at"),
        Index("ix_case_status_received", "received_at"),
    )


class TickerEvent(Base):
    """The latest case events for the big-screen ticker (pruned to the newest few hundred)."""

    __tablename__ = "ticker_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    action: Mapped[str] = mapped_column(String(30))
    category: Mapped[str] = mapped_column(String(4))
    channel: Mapped[str] = mapped_column(String(16))
    street_code: Mapped[str] = mapped_column(String(20))
    grid_code: Mapped[str] = mapped_column(String(20))
    lead: Mapped[str | None] = mapped_column(String(20))
    tracking_code: Mapped[str] = mapped_column(String(20))
