"""The contact book: who to tell about a case. Personal data: only in notify's schema, masked in listings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class Contact(Base):
    """One row per case notify has seen created (also for anonymous reporters: then no channel).

    ``state`` is the last case state notify learnt from the case events; ``survey_round`` counts the
    ``replied`` events (a reopened case is surveyed again); each round's credential is a
    :class:`services.notify.survey.models.SurveyToken`.
    """

    __tablename__ = "contacts"

    case_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(24))
    survey_round: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("tracking_code", name="uq_contacts_tracking_code"),)
