"""Handling limits and deadlines of a case (pure: the matter catalog and the working-day calendar).

Used by :mod:`services.dispatch.case.service` when it builds a new case's row and by the transitions in
:mod:`services.dispatch.case.flows` that move a deadline.
"""

from __future__ import annotations

from datetime import datetime

from services.dispatch.case.models import Case
from shared.calendar import default_calendar
from shared.catalog import TimeLimit, default_catalog

DEFAULT_LIMIT = TimeLimit(value=5)


def deadline_for(start: datetime, limit: TimeLimit) -> tuple[datetime, bool]:
    """Deadline of a handling limit (working days or calendar months) from ``start``; (at, provisional)."""
    cal = default_calendar()
    if limit.months is not None:
        at = cal.add_calendar_months(start, limit.months, roll_to_workday=True)
    else:
        at = cal.working_deadline(start, max(1, round(limit.value)))
    return at, cal.deadline_is_provisional(start, at)


def limit_for_kind(matter_code: str | None, kind: str) -> TimeLimit:
    """The matter's handling limit for this kind of 诉求 (5 working days when the matter is unknown)."""
    matter = default_catalog().get_matter(matter_code) if matter_code else None
    if matter is None:
        return DEFAULT_LIMIT
    try:
        return matter.limit_for(kind)
    except KeyError:
        return DEFAULT_LIMIT


def limit_for_case(case: Case) -> TimeLimit:
    return limit_for_kind(case.matter_code, case.kind)
