"""SLA timer arithmetic around Chinese holidays (2026 National Day: 10-01..10-07 off, 10-10 make-up Saturday)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.sla.timers import (
    plan_clock_timers,
    publicize_at,
    sign_due_at,
    survey_due_at,
    whistle_due_at,
    working_hours_between,
    yellow_at,
)
from shared.calendar import SHANGHAI, default_calendar


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc,arg-type]


def test_national_day_deadline_and_yellow() -> None:
    cal = default_calendar()
    received = local(2026, 9, 30, 10, 0)
    deadline = cal.working_deadline(received, 5)
    assert deadline.astimezone(SHANGHAI) == local(2026, 10, 13, 17, 30)
    # 6 h on 09-30, 10-01..10-07 off, 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13: 5 x 7 h
    assert working_hours_between(received, deadline) == pytest.approx(41.0)
    # 80 % of 41 h = 32.8 h: 6 + 7 + 7 + 7 on 09-30..10-10, 3 h on the morning of 10-12, 2.8 h after 13:30
    assert yellow_at(received, deadline).astimezone(SHANGHAI) == local(2026, 10, 12, 16, 18)


def test_sign_deadline_counts_office_hours_only() -> None:
    # dispatched at 16:30 the day before the holiday: 1 h that day, the next hour on 10-08
    assert sign_due_at(local(2026, 9, 30, 16, 30)).astimezone(SHANGHAI) == local(2026, 10, 8, 10, 0)
    # dispatched at 11:30: half an hour before lunch, 1.5 h after 13:30
    assert sign_due_at(local(2026, 9, 29, 11, 30)).astimezone(SHANGHAI) == local(2026, 9, 29, 15, 0)
    # urgent: 30 minutes; dispatched on a Sunday evening -> Monday 09:30
    assert sign_due_at(local(2026, 11, 22, 20, 0), 0.5).astimezone(SHANGHAI) == local(2026, 11, 23, 9, 30)


def test_publicize_and_survey_count_working_days() -> None:
    red = local(2026, 9, 29, 17, 30)
    # 5 working days after 09-29: 09-30, 10-08, 10-09, 10-10, 10-12
    assert publicize_at(red).astimezone(SHANGHAI) == local(2026, 10, 12, 17, 30)
    # replied 09-30: survey window 10-08, 10-09, 10-10
    assert survey_due_at(local(2026, 9, 30, 15, 0)).astimezone(SHANGHAI) == local(2026, 10, 10, 17, 30)
    assert whistle_due_at(local(2026, 10, 1, 9, 0)) == local(2026, 10, 1, 9, 30).astimezone(dt.UTC)


def test_plan_orders_timers_and_yellow_precedes_red() -> None:
    received = local(2026, 9, 30, 10, 0)
    deadline = default_calendar().working_deadline(received, 5)
    plans = plan_clock_timers(received, deadline, sign_from=received)
    assert [p.kind for p in plans] == ["sign_due", "yellow", "red", "publicize"]
    dues = [p.due_at for p in plans]
    assert dues == sorted(dues)
    assert all(p.due_at.tzinfo is not None for p in plans)
    assert [p.kind for p in plan_clock_timers(received, deadline)] == ["yellow", "red", "publicize"]


def test_deadline_in_the_past_yellow_is_the_deadline() -> None:
    received = local(2026, 9, 30, 10, 0)
    assert yellow_at(received, received - dt.timedelta(hours=1)) == (received - dt.timedelta(hours=1)).astimezone(
        dt.UTC
    )


moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 12, 31), timezones=st.just(SHANGHAI)
)


@settings(max_examples=200, deadline=None)
@given(start=moments, hours=st.floats(min_value=0.0, max_value=200.0))
def test_working_hours_between_inverts_add_working_hours(start: dt.datetime, hours: float) -> None:
    cal = default_calendar()
    end = cal.add_working_hours(start, hours)
    assert working_hours_between(start, end) == pytest.approx(hours, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(start=moments, days=st.integers(min_value=1, max_value=30))
def test_yellow_is_inside_the_limit_and_in_office_hours(start: dt.datetime, days: int) -> None:
    cal = default_calendar()
    deadline = cal.working_deadline(start, days)
    y = yellow_at(start, deadline)
    assert start <= y <= deadline
    total = working_hours_between(start, deadline)
    assert working_hours_between(start, y) == pytest.approx(0.8 * total, abs=1e-6)
    assert cal.is_workday(y.astimezone(SHANGHAI).date())
