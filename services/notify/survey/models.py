"""Survey answers (回访评价) received by notify, one per case and survey round."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26))
    tracking_code: Mapped[str] = mapped_column(String(20), index=True)
    survey_round: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("case_id", "survey_round", name="uq_survey_answers_round"),)
