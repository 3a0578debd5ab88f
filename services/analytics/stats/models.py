"""Projections of the case stream."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, PrimaryKeyConstraint, String
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
