"""The normalised complaint every channel produces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(4))
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    address_status: Mapped[str] = mapped_column(String(12), default="none")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(20))
    street_code: Mapped[str | None] = mapped_column(String(20))
    community_code: Mapped[str | None] = mapped_column(String(20))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    place: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reporter_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    reporter: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    matter_code: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(4))
    emergency: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    solved_on_spot: Mapped[bool] = mapped_column(Boolean, default=False)
    outside_own_grid: Mapped[bool] = mapped_column(Boolean, default=False)
    operator_id: Mapped[str | None] = mapped_column(String(64))
    # sha256 of "<id>:<secret>": the per-complaint secret the citizen got at filing (see complaint/service.py)
    citizen_secret_hash: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("channel", "channel_key", name="uq_complaints_channel_key"),
        Index("ix_complaints_received_at", "received_at"),
        Index("ix_complaints_category_grid", "category", "grid_code", "received_at"),
    )
