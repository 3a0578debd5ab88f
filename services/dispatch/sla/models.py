"""SLA timers (时限计时器): one row per pending deadline of a case, fired once by the scanner."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

TimerKind = Literal["sign_due", "yellow", "red", "publicize", "survey_due", "whistle_due"]
TIMER_KINDS: tuple[TimerKind, ...] = ("sign_due", "yellow", "red", "publicize", "survey_due", "whistle_due")
#: The timers that follow the handling deadline (``Case.deadline_at``); rescheduled together.
CLOCK_KINDS: tuple[TimerKind, ...] = ("yellow", "red", "publicize")


class CaseTimer(Base):
    """A deadline of one case. ``fired_at`` is set in the same transaction as the event it staged."""

    __tablename__ = "case_timers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: ``fired`` (event staged), ``skipped`` (no longer applied: case moved on), ``failed`` (gave up).
    outcome: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_case_timers_due", "due_at", postgresql_where=text("fired_at IS NULL")),)
