"""What the app and grid channels know about a complaint beyond the normalised row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class ChannelSubmission(Base):
    __tablename__ = "channel_submissions"

    complaint_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    submission_type: Mapped[str] = mapped_column(String(16))  # complaint, snapshot (随手拍), errand (我要代办), patrol
    errand: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
