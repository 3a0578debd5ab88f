"""Survey answers (回访评价) received by notify, one per case and survey round."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26))
    tracking_code: Mapped[str] = mapped_column(String(20), index=True)
    survey_round: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(8))
    # the citizen's own answer to 您反映的问题解决了吗？ (None: not asked, e.g. an SMS reply with only a number)
    solved: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("case_id", "survey_round", name="uq_survey_answers_round"),)


class SurveyToken(Base):
    """The credential of one survey round: only its sha256 is stored; the token itself is in the link sent to
    the citizen. Single use (``used_at``), expires at ``expires_at``; a reopened case gets a new round and
    token, which makes the older one stale."""

    __tablename__ = "survey_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26), index=True)
    survey_round: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("case_id", "survey_round", name="uq_survey_tokens_round"),)
