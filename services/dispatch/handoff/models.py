"""Emergency hand-offs (紧急警情转交) and what the development sink received."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, String, func
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

STATES = ("pending", "sent", "acknowledged")
"""``pending``: to be (re)sent; ``sent``: the platform took it, its acknowledgement is awaited;
``acknowledged``: the platform (or a dispatcher on the phone) confirmed it has the case."""


class Handoff(Base):
    """One case transferred to 110/119/120/122: delivery attempts, acknowledgement, escalation."""

    __tablename__ = "handoffs"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26), unique=True)
    tracking_code: Mapped[str] = mapped_column(String(20))
    service: Mapped[str] = mapped_column(String(4))
    reason: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    adapter: Mapped[str | None] = mapped_column(String(16))
    alert_level: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    escalations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ack_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    transferred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_id: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        # the job's scans: what is due to be sent, and what waits for its acknowledgement
        Index("ix_handoffs_unacknowledged", "ack_due_at", postgresql_where=sql_text("acknowledged_at IS NULL")),
        Index("ix_handoffs_due", "next_attempt_at", postgresql_where=sql_text("state = 'pending'")),
    )


class HandoffSinkRecord(Base):
    """What the development sink (``handoff_adapter=sink``) received: the document a real platform would get."""

    __tablename__ = "handoff_sink"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    handoff_id: Mapped[str] = mapped_column(String(26), index=True)
    case_id: Mapped[str] = mapped_column(String(26))
    service: Mapped[str] = mapped_column(String(4))
    receipt_id: Mapped[str] = mapped_column(String(40))
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ack_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_handoff_sink_pending", "ack_at", postgresql_where=sql_text("acknowledged_at IS NULL")),)
