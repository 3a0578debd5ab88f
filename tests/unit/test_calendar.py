from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from shared.calendar import (
    AFTERNOON_END,
    AFTERNOON_START,
    MORNING_END,
    MORNING_START,
    SHANGHAI,
    CalendarDataError,
    WorkCalendar,
    add_working_days,
    coverage_report,
    covered_years,
    deadline_is_provisional,
    default_calendar,
    is_holiday,
    is_workday,
    working_days_between,
    working_deadline,
)

pytestmark = pytest.mark.unit

D = dt.date
UTC = dt.UTC

CAL = WorkCalendar()  # packaged data, shared by the property tests (caches per-year data)

# Dates on which the chinese-calendar / YAML data applies (official 2004-2026, provisional 2027).
known_dates = st.dates(min_value=D(2004, 1, 1), max_value=D(2027, 12, 31))
any_dates = st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))
aware_datetimes = st.datetimes(
    min_value=dt.datetime(2004, 1, 1), max_value=dt.datetime(2032, 12, 31), timezones=st.just(UTC)
)


def _write(tmp_path: Path, text: str, name: str = "cal.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ------------------------------------------------------------------ known dates
def test_national_day_2026_week() -> None:
    for day in range(1, 8):
        d = D(2026, 10, day)
        assert is_holiday(d), d
        assert not is_workday(d), d
    # 2026-10-08 (Thursday) is back to work; 10-10 (Saturday) is a 调休 make-up day.
    assert is_workday(D(2026, 10, 8))
    assert not is_holiday(D(2026, 10, 8))
    assert is_workday(D(2026, 10, 10))
    assert is_workday(D(2026, 9, 20))


@pytest.mark.parametrize(
    "d", [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)]
)
def test_2026_makeup_workdays(d: dt.date) -> None:
    assert d.weekday() >= 5
    assert is_workday(d)
    info = CAL.describe(d)
    assert info.kind == "makeup_workday"
    assert info.label == "调休上班"


def test_spring_festival_2026() -> None:
    for day in range(15, 24):
        assert is_holiday(D(2026, 2, day)), day
        assert not is_workday(D(2026, 2, day))
    assert is_workday(D(2026, 2, 13))
    assert is_workday(D(2026, 2, 24))
    assert CAL.holiday_name(D(2026, 2, 17)) == "春节"


def test_2025_10_11_saturday_makeup() -> None:
    assert D(2025, 10, 11).weekday() == 5
    assert is_workday(D(2025, 10, 11))
    assert not is_holiday(D(2025, 10, 11))


def test_plain_weekend_is_not_holiday() -> None:
    d = D(2026, 3, 7)  # Saturday
    assert not is_workday(d)
    assert not is_holiday(d)
    assert CAL.describe(d).kind == "weekend"
    assert CAL.describe(D(2026, 3, 9)).kind == "workday"


def test_add_working_days_over_national_day() -> None:
    assert add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert add_working_days(D(2026, 9, 30), 5) == D(2026, 10, 13)
    assert working_days_between(D(2026, 9, 30), D(2026, 10, 13)) == 5
    assert add_working_days(D(2026, 10, 8), -1) == D(2026, 9, 30)
    assert add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 8)
    assert add_working_days(D(2026, 10, 8), 0) == D(2026, 10, 8)


def test_working_deadline_is_1730_shanghai_in_utc() -> None:
    start = dt.datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 Beijing
    deadline = working_deadline(start, 5)
    assert deadline.tzinfo is not None and deadline.utcoffset() == dt.timedelta(0)
    assert deadline == dt.datetime(2026, 10, 13, 9, 30, tzinfo=UTC)
    # 23:00 UTC on 09-30 is already 10-01 in Beijing: count from 10-01.
    late = dt.datetime(2026, 9, 30, 23, 0, tzinfo=UTC)
    assert working_deadline(late, 1) == dt.datetime(2026, 10, 8, 9, 30, tzinfo=UTC)


def test_add_working_hours_examples() -> None:
    # Friday 2026-09-18 16:30 Beijing + 2h: 1h Friday, Saturday off, Sunday 09-20 is a 调休
    # make-up day -> 10:00 on Sunday.
    start = dt.datetime(2026, 9, 18, 16, 30, tzinfo=SHANGHAI).astimezone(UTC)
    assert CAL.add_working_hours(start, 2) == dt.datetime(2026, 9, 20, 10, 0, tzinfo=SHANGHAI)
    # Friday 2026-09-25 is Mid-Autumn Festival: the clock waits until Monday 09-28.
    start = dt.datetime(2026, 9, 25, 16, 30, tzinfo=SHANGHAI)
    assert CAL.add_working_hours(start, 2) == dt.datetime(2026, 9, 28, 11, 0, tzinfo=SHANGHAI)
    # lunch break is skipped
    start = dt.datetime(2026, 9, 28, 11, 30, tzinfo=SHANGHAI)
    assert CAL.add_working_hours(start, 1) == dt.datetime(2026, 9, 28, 14, 0, tzinfo=SHANGHAI)
    # across the National Day week
    start = dt.datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)
    assert CAL.add_working_hours(start, 0.5) == dt.datetime(2026, 9, 30, 17, 30, tzinfo=SHANGHAI)
    assert CAL.add_working_hours(start, 1) == dt.datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI)
    # zero hours outside office hours -> next opening; negative goes back
    assert CAL.add_working_hours(dt.datetime(2026, 10, 1, tzinfo=SHANGHAI), 0) == dt.datetime(
        2026, 10, 8, 9, 0, tzinfo=SHANGHAI
    )
    assert CAL.add_working_hours(dt.datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI), -1) == dt.datetime(
        2026, 9, 30, 17, 0, tzinfo=SHANGHAI
    )
    with pytest.raises(ValueError):
        CAL.add_working_hours(start, float("nan"))


def test_add_calendar_months() -> None:
    start = dt.datetime(2026, 8, 31, 2, 0, tzinfo=UTC)  # 10:00 Beijing
    assert CAL.add_calendar_months(start, 6) == dt.datetime(2027, 2, 28, 2, 0, tzinfo=UTC)
    assert CAL.add_calendar_months(dt.datetime(2027, 8, 31, 2, tzinfo=UTC), 6) == dt.datetime(
        2028, 2, 29, 2, tzinfo=UTC
    )
    # 2026-04-01 + 6 months = 2026-10-01 (National Day); rolling moves it to 10-08.
    s = dt.datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    assert CAL.add_calendar_months(s, 6) == dt.datetime(2026, 10, 1, 2, tzinfo=UTC)
    assert CAL.add_calendar_months(s, 6, roll_to_workday=True) == dt.datetime(2026, 10, 8, 2, tzinfo=UTC)
    assert CAL.add_calendar_months(s, -4) == dt.datetime(2025, 12, 1, 2, tzinfo=UTC)


def test_naive_datetime_is_taken_as_utc() -> None:
    naive = dt.datetime(2026, 9, 30, 2, 0)
    assert working_deadline(naive, 5) == working_deadline(naive.replace(tzinfo=UTC), 5)


def test_add_250_days_is_cheap() -> None:
    import time

    CAL.add_working_days(D(2025, 1, 1), 250)  # warm the per-year caches
    t0 = time.perf_counter()
    for _ in range(2000):
        CAL.add_working_days(D(2025, 1, 1), 250)
    assert (time.perf_counter() - t0) / 2000 < 0.001


# ------------------------------------------------------------------ 2027 / provisional / fallback
def test_2027_is_provisional_from_yaml() -> None:
    cov = {c.year: c for c in covered_years()}
    assert cov[2026].status == "official"
    assert cov[2027].status == "provisional"
    assert "推算" in cov[2027].source
    assert not is_workday(D(2027, 10, 1))
    assert not is_workday(D(2027, 2, 8))
    assert is_workday(D(2027, 2, 20))  # estimated 调休 Saturday
    assert deadline_is_provisional(D(2026, 12, 20), D(2027, 1, 11))
    assert not deadline_is_provisional(D(2026, 1, 5), D(2026, 12, 31))
    assert deadline_is_provisional(
        dt.datetime(2026, 12, 31, 17, tzinfo=UTC), dt.datetime(2026, 12, 31, 17, tzinfo=UTC)
    )  # 01:00 on 2027-01-01 in Beijing


def test_unknown_year_warns_once_and_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="linkage.calendar"):
        assert not cal.is_workday(D(2031, 1, 1))  # New Year's Day from the holidays package
        assert not cal.is_workday(D(2031, 10, 1))  # National Day
        assert not cal.is_workday(D(2031, 1, 4))  # Saturday
        assert cal.is_workday(D(2031, 1, 2))  # Thursday
        assert cal.add_working_days(D(2031, 9, 30), 1) == D(2031, 10, 6)
    records = [r for r in caplog.records if r.name == "linkage.calendar" and "2031" in r.getMessage()]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert cal.year_coverage(2031).status == "fallback"
    assert cal.deadline_is_provisional(D(2031, 1, 1), D(2031, 2, 1))
    assert 2031 in {c.year for c in cal.covered_years()}
    assert REGISTRY.get_sample_value("linkage_calendar_year_provisional", {"year": "2031"}) == 1.0


@given(any_dates)
@settings(max_examples=200, deadline=None)
def test_never_raises_1900_2200(d: dt.date) -> None:
    CAL.is_workday(d)
    CAL.is_holiday(d)
    CAL.describe(d)
    assert CAL.is_workday(CAL.add_working_days(d, 3))
    CAL.working_deadline(dt.datetime.combine(d, dt.time(12), tzinfo=UTC), 2)
    CAL.add_working_hours(dt.datetime.combine(d, dt.time(12), tzinfo=UTC), 3.5)
    CAL.deadline_is_provisional(d, d)


def test_coverage_report_and_gauge() -> None:
    rep = coverage_report(D(2026, 6, 1))
    assert rep["ok"] is True
    assert rep["current_year"] == "official"
    assert rep["next_year"] == "provisional"
    assert "2027年节假日安排" in rep["warning"] and "仅供参考" in rep["warning"]
    assert REGISTRY.get_sample_value("linkage_calendar_year_provisional", {"year": "2026"}) == 0.0
    assert REGISTRY.get_sample_value("linkage_calendar_year_provisional", {"year": "2027"}) == 1.0

    rep = WorkCalendar().coverage_report(D(2031, 3, 1))
    assert rep["ok"] is False
    assert rep["current_year"] == "fallback"
    assert "2031年" in rep["warning"]
    assert rep["provisional_years"] == [2031, 2032]


def test_default_calendar_is_cached() -> None:
    assert default_calendar() is default_calendar()


# ------------------------------------------------------------------ data files
def test_env_file_overrides_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _write(
        tmp_path,
        """
years:
  2027:
    status: official
    source: 国办发明电〔2026〕测试号
    holidays:
      - 2027-01-01..2027-01-03
      - {start: 2027-10-01, end: 2027-10-08, name: 国庆节}
    workdays: [2027-09-26]
  2031:
    status: provisional
    source: admin estimate
    holidays: [2031-03-03]
""",
    )
    monkeypatch.setenv("LINKAGE_CALENDAR_FILE", str(p))
    cal = WorkCalendar()
    assert cal.year_coverage(2027).status == "official"
    assert not cal.is_workday(D(2027, 10, 8))
    assert cal.is_workday(D(2027, 10, 9)) is False  # plain Saturday in this replacement entry
    assert cal.is_workday(D(2027, 2, 8))  # replace mode: the packaged Spring Festival is gone
    assert cal.is_workday(D(2027, 9, 26))
    assert cal.year_coverage(2031).status == "provisional"
    assert not cal.is_workday(D(2031, 3, 3))
    assert cal.is_workday(D(2031, 1, 1))  # replace: holidays-package data not used
    assert cal.coverage_report(D(2026, 12, 1))["ok"] is True


def test_merge_mode_patches_official_data(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """
years:
  2026:
    mode: merge
    status: official
    source: local extra day off
    holidays: [{date: 2026-03-09, name: 测试假日}]
    workdays: [2026-10-07]
""",
    )
    cal = WorkCalendar([p])
    assert not cal.is_workday(D(2026, 3, 9))
    assert cal.holiday_name(D(2026, 3, 9)) == "测试假日"
    assert cal.is_workday(D(2026, 10, 7))
    assert not cal.is_workday(D(2026, 10, 6))  # rest of chinese-calendar data kept
    assert cal.year_coverage(2026).status == "official"
    assert "chinese-calendar" in cal.year_coverage(2026).source


@pytest.mark.parametrize(
    "body",
    [
        "years: {2027: {status: maybe}}",
        "years: {2027: {holidays: [2028-01-01]}}",
        "years: {2027: {holidays: [2027-02-30]}}",
        "years: {2027: {holidays: [2027-01-01], workdays: [2027-01-01]}}",
        "years: {2027: {holidays: ['2027-01-05..2027-01-01']}}",
        "years: {2027: {colour: red}}",
        "years: [1, 2]",
        "years: {abc: {}}",
        "{{{",
    ],
)
def test_bad_data_file(tmp_path: Path, body: str, caplog: pytest.LogCaptureFixture) -> None:
    p = _write(tmp_path, body)
    with pytest.raises(CalendarDataError):
        WorkCalendar([p], strict=True)
    with caplog.at_level(logging.ERROR, logger="linkage.calendar"):
        cal = WorkCalendar([p])
    assert cal.load_errors
    assert cal.is_workday(D(2026, 10, 8))
    rep = cal.coverage_report(D(2026, 6, 1))
    assert rep["ok"] is False and "加载失败" in rep["warning"]


def test_missing_env_file_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKAGE_CALENDAR_FILE", str(tmp_path / "nope.yaml"))
    cal = WorkCalendar()
    assert cal.load_errors
    assert cal.year_coverage(2027).status == "provisional"  # packaged file still loaded


def test_chinese_calendar_can_be_disabled() -> None:
    cal = WorkCalendar([], use_chinese_calendar=False)
    assert cal.year_coverage(2026).status == "fallback"
    assert not cal.is_workday(D(2026, 10, 1))


# ------------------------------------------------------------------ properties
@given(known_dates, st.integers(min_value=1, max_value=300))
@settings(max_examples=300, deadline=None)
def test_add_then_between_roundtrip(start: dt.date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert end > start
    assert CAL.is_workday(end)
    assert CAL.working_days_between(start, end) == n
    back = CAL.add_working_days(start, -n)
    assert back < start
    assert CAL.is_workday(back)
    assert CAL.working_days_between(start, back) == -n


@given(any_dates, st.integers(min_value=-400, max_value=400))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_roundtrip_any_year(start: dt.date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.is_workday(end)
    if n != 0:
        assert CAL.working_days_between(start, end) == n


@given(known_dates, st.integers(min_value=1, max_value=60))
@settings(max_examples=200, deadline=None)
def test_holidays_never_counted(start: dt.date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    days = [start + dt.timedelta(days=i) for i in range(1, (end - start).days + 1)]
    counted = [d for d in days if CAL.is_workday(d)]
    assert len(counted) == n
    assert not any(CAL.is_holiday(d) for d in counted)


@given(known_dates, st.integers(min_value=-200, max_value=200))
@settings(max_examples=200, deadline=None)
def test_monotonic_in_n(start: dt.date, n: int) -> None:
    a, b = CAL.add_working_days(start, n), CAL.add_working_days(start, n + 1)
    assert a <= b
    if n != 0 or CAL.is_workday(start):  # n=0 on a day off is the next workday, same as n=1
        assert a < b


@given(known_dates, known_dates)
@settings(max_examples=200, deadline=None)
def test_between_matches_brute_force(a: dt.date, b: dt.date) -> None:
    if abs((b - a).days) > 800:
        b = a + dt.timedelta(days=(b - a).days % 800)
    lo, hi = min(a, b), max(a, b)
    if b >= a:  # (a, b]
        expected = sum(CAL.is_workday(lo + dt.timedelta(days=i)) for i in range(1, (hi - lo).days + 1))
    else:  # -[b, a)
        expected = -sum(CAL.is_workday(lo + dt.timedelta(days=i)) for i in range((hi - lo).days))
    assert CAL.working_days_between(a, b) == expected


def _in_office_hours(moment: dt.datetime) -> bool:
    local = moment.astimezone(SHANGHAI)
    t = local.timetz().replace(tzinfo=None)
    return CAL.is_workday(local.date()) and (MORNING_START <= t <= MORNING_END or AFTERNOON_START <= t <= AFTERNOON_END)


@given(aware_datetimes, st.floats(min_value=0, max_value=200, allow_nan=False))
@settings(max_examples=300, deadline=None)
def test_add_working_hours_lands_in_office_hours(start: dt.datetime, hours: float) -> None:
    end = CAL.add_working_hours(start, hours)
    assert end.utcoffset() == dt.timedelta(0)
    assert end >= start
    assert _in_office_hours(end)
    if hours > 0:
        back = CAL.add_working_hours(start, -hours)
        assert back <= start
        assert _in_office_hours(back)


@given(aware_datetimes, st.floats(min_value=0, max_value=50), st.floats(min_value=0, max_value=50))
@settings(max_examples=200, deadline=None)
def test_add_working_hours_monotonic_and_additive(start: dt.datetime, h1: float, h2: float) -> None:
    a = CAL.add_working_hours(start, h1)
    b = CAL.add_working_hours(start, h1 + h2)
    assert a <= b
    # hours are additive (up to microsecond rounding)
    c = CAL.add_working_hours(a, h2)
    assert abs((c - b).total_seconds()) < 0.01


@given(aware_datetimes, st.integers(min_value=0, max_value=30))
@settings(max_examples=200, deadline=None)
def test_working_deadline_is_end_of_business_on_workday(start: dt.datetime, n: int) -> None:
    deadline = CAL.working_deadline(start, n)
    local = deadline.astimezone(SHANGHAI)
    assert local.timetz().replace(tzinfo=None) == AFTERNOON_END
    assert CAL.is_workday(local.date())
    assert local.date() >= start.astimezone(SHANGHAI).date()


def test_bad_file_strict_message(tmp_path: Path) -> None:
    p = _write(tmp_path, "years: {2027: {holidays: [2028-01-01]}}")
    with pytest.raises(CalendarDataError, match="not in year 2027"):
        WorkCalendar([p], strict=True)
