"""Reporting periods: a day, an ISO week (Monday–Sunday), a calendar month or a custom range of days, all in
Asia/Shanghai. A period is half-open in time: ``[start 00:00, end + 1 day 00:00)`` local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD_KINDS = ("day", "week", "month", "custom")
MAX_CUSTOM_DAYS = 366
PERIOD_NAMES = {"day": "日", "week": "周", "month": "月", "custom": "自定义"}


@dataclass(frozen=True)
class Period:
    kind: str
    first: date
    """First day (inclusive)."""
    last: date
    """Last day (inclusive)."""

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime:
        """Exclusive end: the day after ``last`` at 00:00 (Asia/Shanghai)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=SHANGHAI)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        """How a person reads it: 2026年11月 / 2026年第48周（11月23日–11月29日） / 2026年11月24日 / a range."""
        if self.kind == "month":
            return f"{self.first.year}年{self.first.month}月"
        if self.kind == "day":
            return f"{self.first.year}年{self.first.month}月{self.first.day}日"
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}年第{week}周（{_md(self.first)}–{_md(self.last)}）"
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    def months(self) -> list[date]:
        """First days of the calendar months the period overlaps (逆向评价 is given per month)."""
        out: list[date] = []
        cursor = self.first.replace(day=1)
        while cursor <= self.last:
            out.append(cursor)
            cursor = next_month(cursor)
        return out

    def previous(self) -> Period:
        """The period of the same kind and length just before this one (环比)."""
        if self.kind == "month":
            return month_period(previous_month(self.first))
        return Period(self.kind, self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "start": self.first.isoformat(),
            "end": self.last.isoformat(),
            "label": self.label,
        }


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


def next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def previous_month(d: date) -> date:
    return date(d.year - (d.month == 1), (d.month - 2) % 12 + 1, 1)


def month_period(first: date) -> Period:
    first = first.replace(day=1)
    return Period("month", first, next_month(first) - timedelta(days=1))


def today() -> date:
    return datetime.now(SHANGHAI).date()


def parse_month(text: str) -> date:
    """``2026-11`` → 2026-11-01 (422 naming ``month`` otherwise)."""
    try:
        year, month = (int(p) for p in text.strip().split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise InvalidInput("月份格式应为 2026-11", field="month") from None
    _check_year(first, "month")
    return first


def _check_year(d: date, field: str) -> None:
    if not 2000 <= d.year <= 2100:
        raise InvalidInput(f"日期须在 2000-01-01 至 2100-12-31 之间（{field}）", field=field)


def resolve(kind: str = "month", start: date | None = None, end: date | None = None) -> Period:
    """The period of ``kind`` containing ``start`` (default today); ``custom`` runs ``start``..``end`` inclusive
    (at most 366 days). Bad input raises :class:`InvalidInput` (422) naming the field."""
    if kind not in PERIOD_KINDS:
        raise InvalidInput("统计周期须为 day（日）、week（周）、month（月）或 custom（自定义）", field="period")
    start = start or today()
    _check_year(start, "start")
    if end is not None:
        _check_year(end, "end")
    if kind == "day":
        return Period("day", start, start)
    if kind == "week":
        monday = start - timedelta(days=start.weekday())
        return Period("week", monday, monday + timedelta(days=6))
    if kind == "month":
        return month_period(start)
    if end is None:
        raise InvalidInput("自定义周期需要结束日期 end（含当天）", field="end")
    if end < start:
        raise InvalidInput("结束日期早于开始日期", field="end")
    if (end - start).days + 1 > MAX_CUSTOM_DAYS:
        raise InvalidInput(f"自定义周期最长 {MAX_CUSTOM_DAYS} 天", field="end")
    return Period("custom", start, end)
