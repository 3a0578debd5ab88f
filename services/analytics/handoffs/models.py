"""One row per transferred case: where its emergency hand-off stands (a projection of the case stream).

Codes, times and levels only: no text, no reporter, no address (the display masks the tracking code)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class HandoffStatus(Base):
    """A transferred case's hand-off: sent, escalated, acknowledged (``acknowledged_at`` set: off the alert)."""

    __tablename__ = "handoff_status"

    case_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    handoff_id: Mapped[str | None] = mapped_column(String(26))
    tracking_code: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(4))
    matter_code: Mapped[str | None] = mapped_column(String(16))
    street_code: Mapped[str] = mapped_column(String(20))
    grid_code: Mapped[str] = mapped_column(String(20))
    alert_level: Mapped[int] = mapped_column(Integer, default=1)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    transferred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_handoff_status_acknowledged_transferred", "acknowledged_at", "transferred_at"),)
