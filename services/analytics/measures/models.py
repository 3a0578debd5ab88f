"""Projections behind the measures (analytics schema; rebuilt by replaying ``linkage.dispatch.cases.v1``).

``measure_cases``: one row per case, its current attributes (street, grid, category, channel, lead, state, deadline)
and counters folded from its events. ``measure_facts``: one row per countable event of a case — an assignment
(派单/改派/职责裁定, updated when it is signed, returned or ends), a reply (办结), a close (结案) and a survey answer
(回访) — keyed by the case and the event's ordinal in the case, so a rebuild yields the same rows. Nothing personal:
no text, no reporter, no address (a tracking code identifies the case for staff exports only).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

FACT_KINDS = ("assigned", "replied", "closed", "surveyed")


class MeasureCase(Base):
    """One case as the measures see it: current attributes and counters (no text, no personal data)."""

    __tablename__ = "measure_cases"

    case_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(4))
    matter_code: Mapped[str | None] = mapped_column(String(20))
    street_code: Mapped[str] = mapped_column(String(20))
    grid_code: Mapped[str] = mapped_column(String(20))
    lead: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    events: Mapped[int] = mapped_column(Integer)
    """Events of the case applied so far: the next event's ordinal (``measure_facts.n``)."""
    returns: Mapped[int] = mapped_column(Integer)
    reopens: Mapped[int] = mapped_column(Integer)
    """重办: reopened events plus failed verifications (核查未通过, back to 办理中)."""
    open_assignment: Mapped[int | None] = mapped_column(Integer)
    """``n`` of the assignment still running (not ended), if any."""
    survey_result: Mapped[str | None] = mapped_column(String(8))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_measure_cases_received", "received_at"),
        Index("ix_measure_cases_state_deadline", "state", "deadline_at"),
    )


class MeasureFact(Base):
    """One countable event of a case (see FACT_KINDS); ``at`` is when it counts."""

    __tablename__ = "measure_facts"

    case_id: Mapped[str] = mapped_column(String(26))
    n: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    department: Mapped[str | None] = mapped_column(String(20))
    # assigned: the department's sign deadline, its response, and when the assignment ended
    sign_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # replied: the case's deadline at that moment and whether the reply met it
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    # closed: no return and no reopen before this close / reopened before this close
    one_time: Mapped[bool | None] = mapped_column(Boolean)
    reopened_before: Mapped[bool | None] = mapped_column(Boolean)
    # surveyed: the citizen's answer, and their own "solved" answer when the survey asked it
    result: Mapped[str | None] = mapped_column(String(8))
    solved: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (PrimaryKeyConstraint("case_id", "n"), Index("ix_measure_facts_kind_at", "kind", "at"))
