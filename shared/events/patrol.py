"""未诉先办 (proactive work): hot spots found by analytics and the patrol tasks intake gives grid workers.

- ``linkage.analytics.hotspots.v1`` (key: grid code): :class:`HotspotDetectedV1` — a grid × category whose count
  in the recent window is above its own baseline. Intake (group ``intake-hotspots``) opens one patrol task per
  hot spot for that grid's workers.
- ``linkage.intake.patrols.v1`` (key: grid code): :class:`PatrolTaskOpenedV1` and :class:`PatrolTaskDoneV1`.
  Analytics (group ``analytics-patrol``) counts them for the command-center display.

No personal data in either: codes, counts and the result only (a worker's note and photos stay in intake).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from shared.events.registry import EventPayload, register_event

PatrolResult = Literal["patrolled", "handled", "nothing_found"]
PATROL_RESULT_NAMES: dict[str, str] = {
    "patrolled": "已巡查",
    "handled": "已处置",
    "nothing_found": "未发现问题",
}


@register_event
class HotspotDetectedV1(EventPayload):
    """A grid × category above its own baseline: ``recent_count`` cases in ``window_start..window_end`` (local
    days, inclusive) against a daily mean of ``baseline_daily`` over the ``baseline_days`` before the window."""

    event_type = "cn.linkage.analytics.hotspot_detected.v1"

    hotspot_id: str
    grid_code: str
    street_code: str | None = None
    category: str
    window_start: date
    window_end: date
    recent_count: int
    baseline_daily: float
    baseline_days: int
    detected_at: datetime


@register_event
class PatrolTaskOpenedV1(EventPayload):
    """A patrol task for the workers of ``grid_code`` (one per hot spot)."""

    event_type = "cn.linkage.patrol.task_opened.v1"

    task_id: str
    hotspot_id: str
    grid_code: str
    street_code: str | None = None
    category: str
    opened_at: datetime
    due_at: datetime | None = None


@register_event
class PatrolTaskDoneV1(EventPayload):
    """A grid worker recorded the task's result (已巡查 / 已处置 / 未发现问题)."""

    event_type = "cn.linkage.patrol.task_done.v1"

    task_id: str
    hotspot_id: str
    grid_code: str
    street_code: str | None = None
    category: str
    result: PatrolResult
    worker_id: str
    photos: int = 0
    done_at: datetime
