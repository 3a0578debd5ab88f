"""Hot-spot alerts (source data of analytics: each one was announced on ``linkage.analytics.hotspots.v1``) and
the patrol tasks intake opened for them (a projection of ``linkage.intake.patrols.v1``). Codes and counts only."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class HotspotAlert(Base):
    """One hot spot (grid × category above its baseline) in one window; ``id`` is ``grid:category:window_end``."""

    __tablename__ = "hotspot_alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(20))
    street_code: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(4))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    recent_count: Mapped[int] = mapped_column(Integer)
    baseline_daily: Mapped[float] = mapped_column(Float)
    baseline_days: Mapped[int] = mapped_column(Integer)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_hotspot_alerts_grid_category", "grid_code", "category", "window_end"),
        Index("ix_hotspot_alerts_window_end", "window_end"),
    )


class PatrolTask(Base):
    """A patrol task as analytics knows it from intake's events: opened, then done with a result."""

    __tablename__ = "patrol_task_status"

    task_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    hotspot_id: Mapped[str] = mapped_column(String(64), index=True)
    grid_code: Mapped[str] = mapped_column(String(20))
    street_code: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(4))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    result: Mapped[str | None] = mapped_column(String(16))
