"""When each SLA timer of a case is due: pure working-time arithmetic on the Chinese calendar.

- ``sign_due``: the sign-for limit in working (office) hours after dispatch — 2 h, urgent 0.5 h;
- ``yellow`` (预警): 80 % of the handling limit, measured in office hours from ``received_at``
  to ``deadline_at`` — so nights, weekends and the National Day week never count;
- ``red`` (超期): the deadline itself;
- ``publicize`` (通报): still open 5 working days after red (17:30 of the 5th working day);
- ``survey_due``: 3 working days after the reply (办结) — no answer by then is 未评价;
- ``whistle_due``: 30 clock minutes after 吹哨 (departments must report by then).

Datetimes in and out are aware UTC; the working-time logic runs in Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.calendar import OFFICE_PERIODS, SHANGHAI, WorkCalendar, default_calendar

YELLOW_FRACTION = 0.8
SIGN_HOURS = 2.0
URGENT_SIGN_HOURS = 0.5
PUBLICIZE_AFTER_DAYS = 5
SURVEY_DAYS = 3
WHISTLE_MINUTES = 30


@dataclass(frozen=True)
class TimerPlan:
    kind: str
    due_at: dt.datetime


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def working_hours_between(start: dt.datetime, end: dt.datetime, cal: WorkCalendar | None = None) -> float:
    """Office hours (09:00-12:00, 13:30-17:30 on working days, Asia/Shanghai) inside ``[start, end]``.

    Zero when ``end <= start``. Inverse of ``add_working_hours``: for a start inside office hours,
    ``working_hours_between(s, cal.add_working_hours(s, h)) == h``."""
    cal = cal or default_calendar()
    a = _aware(start).astimezone(SHANGHAI)
    b = _aware(end).astimezone(SHANGHAI)
    if b <= a:
        return 0.0
    total = dt.timedelta()
    day = a.date()
    while day <= b.date():
        if cal.is_workday(day):
            for ps, pe in OFFICE_PERIODS:
                s = max(a, dt.datetime.combine(day, ps, tzinfo=SHANGHAI))
                e = min(b, dt.datetime.combine(day, pe, tzinfo=SHANGHAI))
                if e > s:
                    total += e - s
            day += dt.timedelta(days=1)
        else:
            day = cal.add_working_days(day, 1)
    return total.total_seconds() / 3600


def yellow_at(
    received_at: dt.datetime,
    deadline_at: dt.datetime,
    cal: WorkCalendar | None = None,
    fraction: float = YELLOW_FRACTION,
) -> dt.datetime:
    """预警: the moment ``fraction`` of the working time between receipt and deadline has passed."""
    cal = cal or default_calendar()
    hours = working_hours_between(received_at, deadline_at, cal)
    if hours <= 0:
        return _aware(deadline_at).astimezone(dt.UTC)
    return min(cal.add_working_hours(_aware(received_at), hours * fraction), _aware(deadline_at).astimezone(dt.UTC))


def sign_due_at(dispatched_at: dt.datetime, hours: float = SIGN_HOURS, cal: WorkCalendar | None = None) -> dt.datetime:
    """签收 limit: ``hours`` office hours after dispatch."""
    return (cal or default_calendar()).add_working_hours(_aware(dispatched_at), hours)


def publicize_at(
    deadline_at: dt.datetime, days: int = PUBLICIZE_AFTER_DAYS, cal: WorkCalendar | None = None
) -> dt.datetime:
    """通报: end of business of the ``days``-th working day after the (missed) deadline."""
    return (cal or default_calendar()).working_deadline(_aware(deadline_at), days)


def survey_due_at(replied_at: dt.datetime, days: int = SURVEY_DAYS, cal: WorkCalendar | None = None) -> dt.datetime:
    """回访: no answer by end of business of the ``days``-th working day after 办结 → 未评价."""
    return (cal or default_calendar()).working_deadline(_aware(replied_at), days)


def whistle_due_at(whistled_at: dt.datetime, minutes: int = WHISTLE_MINUTES) -> dt.datetime:
    """吹哨报到: the summoned departments must report within ``minutes`` clock minutes."""
    return _aware(whistled_at).astimezone(dt.UTC) + dt.timedelta(minutes=minutes)


def plan_clock_timers(
    received_at: dt.datetime,
    deadline_at: dt.datetime,
    *,
    sign_from: dt.datetime | None = None,
    sign_hours: float = SIGN_HOURS,
    cal: WorkCalendar | None = None,
) -> list[TimerPlan]:
    """The deadline-driven timers of an open case; ``sign_from`` (dispatch time) adds ``sign_due``."""
    cal = cal or default_calendar()
    deadline = _aware(deadline_at).astimezone(dt.UTC)
    plans = [
        TimerPlan("yellow", yellow_at(received_at, deadline, cal)),
        TimerPlan("red", deadline),
        TimerPlan("publicize", publicize_at(deadline, cal=cal)),
    ]
    if sign_from is not None:
        plans.insert(0, TimerPlan("sign_due", sign_due_at(sign_from, sign_hours, cal)))
    return plans
