"""Survey answers (回访评价) received for a case, one row per answer event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class CaseSurvey(Base):
    __tablename__ = "case_surveys"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26), index=True)
    event_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    result: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: What dispatch did with it: closed | reopened | supervised | ignored.
    outcome: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
