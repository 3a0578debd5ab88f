"""时限标签: how much working time a case has left (or is over), counted like the SLA counts it.

Office hours on working days (09:00-12:00, 13:30-17:30 Asia/Shanghai, the holiday calendar applied) — the
same arithmetic the SLA timers use — so a Friday-evening case due on Monday shows 1 working day left, not
2 days 21 hours; a working day is the 7 office hours of one day.

It lives in ``sla/`` beside the timers whose arithmetic it shares; the case API shows it (``api/common.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from services.dispatch.sla.timers import working_hours_between
from shared.calendar import default_calendar

HOURS_PER_WORKING_DAY = 7.0
CLOCK_STATES = frozenset({"triage", "dispatched", "signed", "returned"})


@dataclass(frozen=True)
class TimeTag:
    level: str
    """green (正常) | yellow (预警: 80 % of the working time used) | red (超期) | grey (clock stopped / done)"""
    label: str
    """short, for a table cell: ``剩余3个工作日``, ``剩余2小时``, ``已超时1个工作日``"""
    detail: str
    """full: ``剩余3个工作日4小时（按工作时间计）``"""
    working_hours: float | None
    """office hours left (negative: over the deadline by that much); None when the clock does not run"""


def span(hours: float) -> tuple[str, str]:
    """(short, full) Chinese span of ``hours`` office hours."""
    minutes = max(0, math.floor(hours * 60 + 1e-6))
    days, rest = divmod(minutes, round(HOURS_PER_WORKING_DAY * 60))
    h, m = divmod(rest, 60)
    if days:
        return f"{days}个工作日", f"{days}个工作日" + (f"{h}小时" if h else "") + (f"{m}分" if m and not h else "")
    if h:
        return f"{h}小时", f"{h}小时" + (f"{m}分" if m else "")
    return f"{m}分钟", f"{m}分钟"


def time_tag(
    *,
    state: str,
    deadline_at: datetime | None,
    warning_at: datetime | None,
    now: datetime | None = None,
) -> TimeTag:
    """The tag of a case now (aware datetimes)."""
    if state == "suspended":
        return TimeTag("grey", "已停止计时", "已挂起，停止计时", None)
    if deadline_at is None or state not in CLOCK_STATES:
        return TimeTag("grey", "—", "不计时", None)
    now = now or datetime.now(UTC)
    cal = default_calendar()
    if now > deadline_at:
        over = working_hours_between(deadline_at, now, cal)
        if over <= 0:
            return TimeTag("red", "已超时", "已超过办理时限（尚未计入工作时间）", 0.0)
        short, full = span(over)
        return TimeTag("red", f"已超时{short}", f"已超时{full}（按工作时间计）", -over)
    left = working_hours_between(now, deadline_at, cal)
    short, full = span(left)
    level = "yellow" if warning_at is not None and now >= warning_at else "green"
    prefix = "预警，" if level == "yellow" else ""
    return TimeTag(level, f"剩余{short}", f"{prefix}剩余{full}（按工作时间计）", left)
