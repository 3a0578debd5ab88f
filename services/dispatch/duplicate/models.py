"""Duplicate links (疑似重复 / 并单) between a new case and an earlier open case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Identity, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class CaseDuplicate(Base):
    __tablename__ = "case_duplicates"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26), index=True)
    candidate_id: Mapped[str] = mapped_column(String(26), index=True)
    score: Mapped[float] = mapped_column(Float)
    text_score: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    #: merged (the case followed the candidate as master) | suggested (for a dispatcher) | dismissed
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("case_id", "candidate_id", name="uq_case_duplicates_pair"),)
