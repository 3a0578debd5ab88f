"""SLA gauges for Prometheus: open, yellow (预警), red (超期) and overdue cases per lead department.

- ``open``: cases in an open state (not closed, transferred or merged);
- ``yellow``: the handling clock runs (triage, dispatched, signed, returned), the case's current yellow
  point (80 % of the working time to the deadline: its latest ``yellow`` timer) has passed and the
  deadline has not;
- ``red``: the clock runs and the deadline has passed (the case is 超期 and escalated to 督办);
- ``overdue``: any open case whose deadline has passed, whatever its state (suspended and replied ones
  included) — the same cases as ``?overdue=true`` of the case lists.

Cases without a lead department yet are counted under ``department="unassigned"``. Also
``linkage_sla_timers_overdue_unfired``: timers due more than a minute ago and not fired (a growing
number means no timer scanner runs).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from prometheus_client import Gauge
from sqlalchemy import text

from services.dispatch.case.state import OPEN_STATES
from services.dispatch.sla.service import CLOCK_STATES
from shared.faults import is_infrastructure_error
from shared.logging import get_logger
from shared.metrics import REFRESH_INTERVAL_S, mark_success

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from shared.app import ServiceRuntime

log = get_logger(__name__)

LEVELS = ("open", "yellow", "red", "overdue")
UNASSIGNED = "unassigned"

SLA_CASES = Gauge("linkage_sla_cases", "Open cases by lead department and SLA level", ["department", "level"])
TIMERS_OVERDUE = Gauge("linkage_sla_timers_overdue_unfired", "SLA timers due more than a minute ago and not fired yet")

_COUNTS = text(
    """
    SELECT coalesce(c.lead, '') AS department,
           count(*) AS open,
           count(*) FILTER (WHERE c.state = ANY(CAST(:clock AS text[])) AND c.deadline_at > now()
                            AND y.due_at <= now()) AS yellow,
           count(*) FILTER (WHERE c.state = ANY(CAST(:clock AS text[])) AND c.deadline_at <= now()) AS red,
           count(*) FILTER (WHERE c.deadline_at <= now()) AS overdue
    FROM cases c
    LEFT JOIN LATERAL (
        SELECT t.due_at FROM case_timers t WHERE t.case_id = c.id AND t.kind = 'yellow' ORDER BY t.id DESC LIMIT 1
    ) y ON true
    WHERE c.state = ANY(CAST(:open AS text[]))
    GROUP BY 1
    """
)
_UNFIRED = text("SELECT count(*) FROM case_timers WHERE fired_at IS NULL AND due_at < now() - interval '1 minute'")


async def measure(conn: AsyncConnection) -> tuple[dict[str, dict[str, int]], int]:
    """``{department: {level: count}}`` of the open cases, and the number of late unfired timers."""
    rows = await conn.execute(_COUNTS, {"clock": sorted(CLOCK_STATES), "open": sorted(OPEN_STATES)})
    counts = {(row.department or UNASSIGNED): {level: int(getattr(row, level)) for level in LEVELS} for row in rows}
    unfired = int((await conn.execute(_UNFIRED)).scalar_one())
    return counts, unfired


def publish(counts: dict[str, dict[str, int]], known: set[str]) -> None:
    """Set the gauges; a department seen before and without open cases now goes to 0 (not stale)."""
    for department in known | set(counts):
        levels = counts.get(department, {})
        for level in LEVELS:
            SLA_CASES.labels(department, level).set(levels.get(level, 0))
    known.update(counts)


async def sla_metrics(runtime: ServiceRuntime) -> None:
    """Background job of dispatch: refresh the SLA gauges every 15 s (one grouped query)."""
    known: set[str] = set()
    while True:
        try:
            async with runtime.engine.connect() as conn:
                counts, unfired = await measure(conn)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            log.warning("sla metrics: database unavailable", error=repr(exc)[:300])
        else:
            publish(counts, known)
            TIMERS_OVERDUE.set(unfired)
            mark_success(runtime.name, "sla_metrics")
        await asyncio.sleep(REFRESH_INTERVAL_S)
