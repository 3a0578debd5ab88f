"""Patrol tasks (巡查任务): one per hot spot, for the workers of its grid."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class PatrolTask(Base):
    __tablename__ = "patrol_tasks"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    hotspot_id: Mapped[str] = mapped_column(String(64), unique=True)
    grid_code: Mapped[str] = mapped_column(String(20))
    street_code: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(4))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    recent_count: Mapped[int] = mapped_column(Integer)
    baseline_daily: Mapped[float] = mapped_column(Float)
    baseline_days: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    done_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_patrol_tasks_grid_status", "grid_code", "status"),)
