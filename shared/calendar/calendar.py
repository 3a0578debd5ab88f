"""Chinese government working-day calendar (weekends off, statutory holidays off, 调休 make-up
days on) and the deadline arithmetic built on it.

Data, per year, in order of preference:

1. ``shared/calendar/data/cn_calendar.yaml`` and then the admin file named by the env var
   ``LINKAGE_CALENDAR_FILE`` (entries replace a year, or patch it with ``mode: merge``);
2. the ``chinese-calendar`` package (official State Council data, 2004-2026 in 1.11.0);
3. fallback: the ``holidays`` package's statutory days for China (no 调休 swaps) plus
   weekends. A fallback year is logged loudly (once per year) and reported provisional.

All ``date`` values are calendar dates in Asia/Shanghai. Datetimes given to this module
should be timezone-aware (naive ones are taken as UTC); datetimes returned are aware UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from prometheus_client import REGISTRY, Gauge

from shared.calendar.data_file import (
    ENV_CALENDAR_FILE,
    PACKAGED_DATA_FILE,
    CalendarDataError,
    YearSpec,
    load_data_file,
    merge_specs,
)

logger = logging.getLogger("linkage.calendar")

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC

#: Office hours on a working day (Asia/Shanghai local time). The clock of
#: ``add_working_hours`` only runs inside these periods.
MORNING_START = dt.time(9, 0)
MORNING_END = dt.time(12, 0)
AFTERNOON_START = dt.time(13, 30)
AFTERNOON_END = dt.time(17, 30)
OFFICE_PERIODS: tuple[tuple[dt.time, dt.time], ...] = (
    (MORNING_START, MORNING_END),
    (AFTERNOON_START, AFTERNOON_END),
)
#: End of business: a working-day deadline expires at this local time.
END_OF_BUSINESS = AFTERNOON_END

YearStatus = Literal["official", "provisional", "fallback"]
DayKind = Literal["workday", "weekend", "holiday", "makeup_workday"]

DAY_KIND_LABELS: Mapping[DayKind, str] = {
    "workday": "工作日",
    "weekend": "周末",
    "holiday": "法定节假日",
    "makeup_workday": "调休上班",
}
STATUS_LABELS: Mapping[YearStatus, str] = {
    "official": "正式",
    "provisional": "推算（待官方发布）",
    "fallback": "兜底推算（无调休数据）",
}


@dataclass(frozen=True)
class YearCoverage:
    year: int
    status: YearStatus
    source: str

    @property
    def provisional(self) -> bool:
        return self.status != "official"


@dataclass(frozen=True)
class DayInfo:
    date: dt.date
    is_workday: bool
    kind: DayKind
    name: str | None  # holiday / make-up day name, e.g. 国庆节
    provisional: bool

    @property
    def label(self) -> str:
        return DAY_KIND_LABELS[self.kind]


@dataclass(frozen=True)
class _Year:
    year: int
    status: YearStatus
    source: str
    holidays: Mapping[dt.date, str]
    makeup_workdays: Mapping[dt.date, str]
    workday_ordinals: tuple[int, ...]  # sorted
    workday_set: frozenset[int]


def _make_gauge() -> Gauge:
    name = "linkage_calendar_year_provisional"
    try:
        return Gauge(name, "1 if the holiday calendar for the year is provisional/fallback, else 0", ["year"])
    except ValueError:  # already registered (module re-imported)
        existing = REGISTRY._names_to_collectors.get(name)
        assert isinstance(existing, Gauge)
        return existing


YEAR_PROVISIONAL_GAUGE = _make_gauge()

_SUBSTITUTED_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")


@functools.cache
def _chinese_calendar_by_year() -> tuple[dict[int, dict[dt.date, str]], dict[int, dict[dt.date, str]], str]:
    """Index the chinese-calendar package's data by year: (holidays, workdays, source)."""
    hol: dict[int, dict[dt.date, str]] = {}
    work: dict[int, dict[dt.date, str]] = {}
    try:
        import chinese_calendar as cc

        zh = {h.value: h.chinese for h in cc.Holiday}
        for day, name in cc.holidays.items():
            hol.setdefault(day.year, {})[day] = zh.get(name, str(name))
        for day, name in cc.workdays.items():
            if day.weekday() >= 5:  # only the 调休 make-up weekend days matter
                work.setdefault(day.year, {})[day] = f"{zh.get(name, str(name))}调休"
        version = metadata.version("chinese-calendar")
    except Exception:  # pragma: no cover - package missing or broken
        logger.exception("chinese-calendar package unavailable; using YAML/fallback data only")
        return {}, {}, "chinese-calendar (unavailable)"
    return hol, work, f"chinese-calendar {version}（国务院办公厅节假日安排通知）"


def _fallback_year(year: int) -> tuple[dict[dt.date, str], dict[dt.date, str], str]:
    """Statutory days off from the ``holidays`` package (plus any 调休 it knows)."""
    hol: dict[dt.date, str] = {}
    work: dict[dt.date, str] = {}
    try:
        import holidays as holidays_pkg

        china: Any = getattr(holidays_pkg, "China")  # noqa: B009 - the package builds its countries lazily
        data = china(years=year, language="zh_CN")
        for day, name in data.items():
            hol[day] = str(name)
            if "调休" in str(name):
                m = _SUBSTITUTED_RE.search(str(name))
                if m:
                    swapped = dt.date.fromisoformat(m.group(1))
                    if swapped.year == year:
                        work[swapped] = "调休上班"
        version = metadata.version("holidays")
        source = f"holidays {version} 推算的法定节日（未含调休安排）+ 周末"
    except Exception as exc:  # never fail on a date: weekends only
        logger.error("holidays package failed for %s (%s); using weekends only", year, exc)
        source = "仅按周末推算（holidays 包不可用）"
    for day in work:
        hol.pop(day, None)
    return hol, work, source


def _to_local(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI)


def _local_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return _to_local(value).date()
    return value


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (dt.date(year, month + 1, 1) - dt.timedelta(days=1)).day


class WorkCalendar:
    """A working-day calendar. Thread-safe; per-year data is built lazily and cached."""

    def __init__(
        self,
        data_files: Sequence[str | Path] | None = None,
        *,
        use_chinese_calendar: bool = True,
        strict: bool = False,
    ) -> None:
        """``data_files``: YAML files applied in order (later on top). ``None`` means the
        packaged file plus ``$LINKAGE_CALENDAR_FILE`` if set. With ``strict`` a bad file
        raises ``CalendarDataError``; otherwise it is logged and listed in ``load_errors``."""
        if data_files is None:
            files: list[str | Path] = [PACKAGED_DATA_FILE]
            extra = os.environ.get(ENV_CALENDAR_FILE, "").strip()
            if extra:
                files.append(extra)
        else:
            files = list(data_files)
        self.data_files: tuple[str, ...] = tuple(str(f) for f in files)
        self.load_errors: list[str] = []
        layers = []
        for f in files:
            try:
                layers.append(load_data_file(f))
            except CalendarDataError as exc:
                if strict:
                    raise
                logger.error("calendar data file ignored: %s", exc)
                self.load_errors.append(str(exc))
        self._specs: dict[int, list[YearSpec]] = merge_specs(layers)
        self._use_cc = use_chinese_calendar
        self._years: dict[int, _Year] = {}
        self._lock = threading.Lock()
        self._warned: set[int] = set()

    # ------------------------------------------------------------------ year data
    def _year(self, year: int) -> _Year:
        y = self._years.get(year)
        if y is not None:
            return y
        with self._lock:
            y = self._years.get(year)
            if y is None:
                y = self._build_year(year)
                self._years[year] = y
        YEAR_PROVISIONAL_GAUGE.labels(year=str(year)).set(0 if y.status == "official" else 1)
        return y

    def _build_year(self, year: int) -> _Year:
        specs = self._specs.get(year, [])
        holidays: dict[dt.date, str]
        workdays: dict[dt.date, str]
        sources: list[str] = []
        status: YearStatus
        if specs and specs[0].mode == "replace":
            holidays, workdays, status = {}, {}, specs[0].status
        else:
            cc_hol, cc_work, cc_source = _chinese_calendar_by_year() if self._use_cc else ({}, {}, "")
            if year in cc_hol:
                holidays, workdays = dict(cc_hol[year]), dict(cc_work.get(year, {}))
                status = "official"
                sources.append(cc_source)
            else:
                holidays, workdays, fb_source = _fallback_year(year)
                status = "fallback"
                sources.append(fb_source)
        for spec in specs:
            for day, name in spec.holidays.items():
                workdays.pop(day, None)
                holidays[day] = name
            for day, name in spec.workdays.items():
                holidays.pop(day, None)
                workdays[day] = name
            sources.append(spec.source)
            status = spec.status
        if status != "official" and year not in self._warned:
            self._warned.add(year)
            if status == "fallback":
                logger.warning(
                    "NO HOLIDAY CALENDAR DATA FOR %s: neither chinese-calendar nor the calendar YAML "
                    "covers it; using statutory holidays from the `holidays` package without 调休 "
                    "swaps. Deadlines in %s are PROVISIONAL. Add the year to %s or $%s.",
                    year,
                    year,
                    PACKAGED_DATA_FILE.name,
                    ENV_CALENDAR_FILE,
                )
            else:
                logger.warning(
                    "Holiday calendar for %s is PROVISIONAL (calendar data file says so); "
                    "deadlines in %s are estimates until the official notice is loaded.",
                    year,
                    year,
                )
        first = dt.date(year, 1, 1).toordinal()
        last = dt.date(year, 12, 31).toordinal()
        work_ords: list[int] = []
        for o in range(first, last + 1):
            day = dt.date.fromordinal(o)
            if day in workdays or (day.weekday() < 5 and day not in holidays):
                work_ords.append(o)
        return _Year(
            year=year,
            status=status,
            source="；".join(s for s in sources if s),
            holidays=holidays,
            makeup_workdays={d: n for d, n in workdays.items() if d.weekday() >= 5},
            workday_ordinals=tuple(work_ords),
            workday_set=frozenset(work_ords),
        )

    # ------------------------------------------------------------------ days
    def is_workday(self, d: dt.date) -> bool:
        return d.toordinal() in self._year(d.year).workday_set

    def is_holiday(self, d: dt.date) -> bool:
        """True for a statutory day off (including weekend days inside a holiday break)."""
        return d in self._year(d.year).holidays

    def holiday_name(self, d: dt.date) -> str | None:
        return self._year(d.year).holidays.get(d)

    def describe(self, d: dt.date) -> DayInfo:
        y = self._year(d.year)
        provisional = y.status != "official"
        if d in y.holidays:
            return DayInfo(d, False, "holiday", y.holidays[d], provisional)
        if d.weekday() >= 5:
            if d.toordinal() in y.workday_set:
                return DayInfo(d, True, "makeup_workday", y.makeup_workdays.get(d), provisional)
            return DayInfo(d, False, "weekend", None, provisional)
        return DayInfo(d, True, "workday", None, provisional)

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The date ``n`` working days after ``start`` (``start`` not counted).

        ``n == 0``: ``start`` if it is a workday, else the next workday. ``n < 0``: the
        ``-n``-th workday strictly before ``start``."""
        if n == 0:
            return start if self.is_workday(start) else self.add_working_days(start, 1)
        year = start.year
        ords = self._year(year).workday_ordinals
        o = start.toordinal()
        if n > 0:
            remaining = n
            i = bisect_right(ords, o)
            while True:
                avail = len(ords) - i
                if remaining <= avail:
                    return dt.date.fromordinal(ords[i + remaining - 1])
                remaining -= avail
                year += 1
                if year > dt.MAXYEAR:
                    raise OverflowError("date out of range")
                ords = self._year(year).workday_ordinals
                i = 0
        remaining = -n
        i = bisect_left(ords, o)
        while True:
            if remaining <= i:
                return dt.date.fromordinal(ords[i - remaining])
            remaining -= i
            year -= 1
            if year < dt.MINYEAR:
                raise OverflowError("date out of range")
            ords = self._year(year).workday_ordinals
            i = len(ords)

    def _count(self, a: dt.date, b: dt.date) -> int:
        """Workdays in (a, b] for a <= b."""
        if a.year == b.year:
            ords = self._year(a.year).workday_ordinals
            return bisect_right(ords, b.toordinal()) - bisect_right(ords, a.toordinal())
        first = self._year(a.year).workday_ordinals
        total = len(first) - bisect_right(first, a.toordinal())
        for year in range(a.year + 1, b.year):
            total += len(self._year(year).workday_ordinals)
        return total + bisect_right(self._year(b.year).workday_ordinals, b.toordinal())

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        """Workdays in ``(a, b]``; if ``b < a``, minus the workdays in ``[b, a)``.

        So ``working_days_between(d, add_working_days(d, n)) == n`` for every ``n != 0``."""
        if b >= a:
            return self._count(a, b)
        return -(self._count(b, a) + (1 if self.is_workday(b) else 0) - (1 if self.is_workday(a) else 0))

    # ------------------------------------------------------------------ datetimes
    def working_deadline(self, start_utc: dt.datetime, n_days: int) -> dt.datetime:
        """17:30 Asia/Shanghai of the ``n_days``-th working day after the start's local date,
        as aware UTC."""
        day = self.add_working_days(_to_local(start_utc).date(), n_days)
        return dt.datetime.combine(day, END_OF_BUSINESS, tzinfo=SHANGHAI).astimezone(UTC)

    def add_working_hours(self, start_utc: dt.datetime, hours: float) -> dt.datetime:
        """Add office hours (09:00-12:00, 13:30-17:30 on workdays, Asia/Shanghai). The result
        is always inside (or on the boundary of) an office period; ``hours == 0`` moves a
        start outside office hours to the next opening (a start on a boundary stays). Negative hours count backwards."""
        if not math.isfinite(hours):
            raise ValueError(f"hours must be finite, got {hours!r}")
        t = _to_local(start_utc)
        remaining = dt.timedelta(microseconds=round(abs(hours) * 3_600_000_000))
        if hours >= 0:
            while True:
                day = t.date()
                if self.is_workday(day):
                    for ps, pe in OFFICE_PERIODS:
                        s = dt.datetime.combine(day, ps, tzinfo=SHANGHAI)
                        e = dt.datetime.combine(day, pe, tzinfo=SHANGHAI)
                        if t > e or (t == e and remaining):
                            continue
                        cur = max(t, s)
                        avail = e - cur
                        if remaining <= avail:
                            return (cur + remaining).astimezone(UTC)
                        remaining -= avail
                        t = e
                t = dt.datetime.combine(self.add_working_days(day, 1), dt.time(0), tzinfo=SHANGHAI)
        while True:
            day = t.date()
            if self.is_workday(day):
                for ps, pe in reversed(OFFICE_PERIODS):
                    s = dt.datetime.combine(day, ps, tzinfo=SHANGHAI)
                    e = dt.datetime.combine(day, pe, tzinfo=SHANGHAI)
                    if t <= s:
                        continue
                    cur = min(t, e)
                    avail = cur - s
                    if remaining <= avail:
                        return (cur - remaining).astimezone(UTC)
                    remaining -= avail
                    t = s
            t = dt.datetime.combine(self.add_working_days(day, -1), dt.time(23, 59), tzinfo=SHANGHAI)

    def add_calendar_months(self, start_utc: dt.datetime, months: int, *, roll_to_workday: bool = False) -> dt.datetime:
        """Same local wall-clock time ``months`` calendar months later (day clamped to the
        month's end, e.g. 08-31 + 6 → 02-28/29), as aware UTC. With ``roll_to_workday`` a
        result on a day off moves to the next workday (same time of day)."""
        local = _to_local(start_utc)
        y, m = divmod(local.year * 12 + local.month - 1 + months, 12)
        m += 1
        day = min(local.day, _days_in_month(y, m))
        result = local.replace(year=y, month=m, day=day)
        if roll_to_workday and not self.is_workday(result.date()):
            result = dt.datetime.combine(
                self.add_working_days(result.date(), 1), result.timetz().replace(tzinfo=None), tzinfo=SHANGHAI
            )
        return result.astimezone(UTC)

    # ------------------------------------------------------------------ coverage
    def year_coverage(self, year: int) -> YearCoverage:
        y = self._year(year)
        return YearCoverage(year=year, status=y.status, source=y.source)

    def deadline_is_provisional(self, start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> bool:
        """True when any year touched by [start, end] has provisional or fallback data."""
        a, b = sorted((_local_date(start), _local_date(end)))
        return any(self._year(y).status != "official" for y in range(a.year, b.year + 1))

    def covered_years(self) -> list[YearCoverage]:
        """Every year with data (chinese-calendar, YAML) plus fallback years already used."""
        years: set[int] = set(self._specs) | set(self._years)
        if self._use_cc:
            years |= set(_chinese_calendar_by_year()[0])
        return [self.year_coverage(y) for y in sorted(years)]

    def coverage_report(self, today: dt.date | None = None) -> dict[str, Any]:
        """Details for /readyz and the staff banner. ``ok`` is true when the current year is
        official and every data file loaded; a provisional *next* year only adds a warning."""
        if today is None:
            today = dt.datetime.now(SHANGHAI).date()
        cur = self.year_coverage(today.year)
        nxt = self.year_coverage(today.year + 1) if today.year < dt.MAXYEAR else cur
        for c in self.covered_years():  # refresh the gauge for all known years
            YEAR_PROVISIONAL_GAUGE.labels(year=str(c.year)).set(0 if c.status == "official" else 1)
        messages: list[str] = []
        for c in (cur, nxt) if nxt is not cur else (cur,):
            if c.status == "provisional":
                messages.append(f"{c.year}年节假日安排尚未正式发布，期限按推算计算，仅供参考")
            elif c.status == "fallback":
                messages.append(f"{c.year}年节假日安排未收录，期限按法定节日推算（未含调休），仅供参考")
        if self.load_errors:
            messages.append("节假日数据文件加载失败，已忽略，请管理员检查")
        return {
            "ok": cur.status == "official" and not self.load_errors,
            "today": today.isoformat(),
            "current_year": cur.status,
            "next_year": nxt.status,
            "years": {str(cur.year): cur.status, str(nxt.year): nxt.status},
            "provisional_years": [c.year for c in (cur, nxt) if c.provisional],
            "load_errors": list(self.load_errors),
            "warning": "；".join(messages) or None,
        }


# ---------------------------------------------------------------------- module level
@functools.cache
def default_calendar() -> WorkCalendar:
    """The process-wide calendar (packaged YAML + ``$LINKAGE_CALENDAR_FILE``)."""
    return WorkCalendar()


def reload_default_calendar() -> WorkCalendar:
    """Drop the cached default calendar (e.g. after an admin edited the data file)."""
    default_calendar.cache_clear()
    return default_calendar()


def is_workday(d: dt.date) -> bool:
    return default_calendar().is_workday(d)


def is_holiday(d: dt.date) -> bool:
    return default_calendar().is_holiday(d)


def describe(d: dt.date) -> DayInfo:
    return default_calendar().describe(d)


def add_working_days(start: dt.date, n: int) -> dt.date:
    return default_calendar().add_working_days(start, n)


def working_days_between(a: dt.date, b: dt.date) -> int:
    return default_calendar().working_days_between(a, b)


def working_deadline(start_utc: dt.datetime, n_days: int) -> dt.datetime:
    return default_calendar().working_deadline(start_utc, n_days)


def add_working_hours(start_utc: dt.datetime, hours: float) -> dt.datetime:
    return default_calendar().add_working_hours(start_utc, hours)


def add_calendar_months(start_utc: dt.datetime, months: int, *, roll_to_workday: bool = False) -> dt.datetime:
    return default_calendar().add_calendar_months(start_utc, months, roll_to_workday=roll_to_workday)


def deadline_is_provisional(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> bool:
    return default_calendar().deadline_is_provisional(start, end)


def covered_years() -> list[YearCoverage]:
    return default_calendar().covered_years()


def coverage_report(today: dt.date | None = None) -> dict[str, Any]:
    return default_calendar().coverage_report(today)
