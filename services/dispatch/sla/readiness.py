"""Readiness details of the SLA clock: calendar coverage and the timer backlog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from shared.calendar import default_calendar

if TYPE_CHECKING:
    from shared.app import ServiceRuntime


async def calendar_readiness(runtime: ServiceRuntime) -> dict[str, Any]:
    """``calendar``: the working-day calendar's coverage (a provisional or unknown year is a warning
    in the details, never a readiness failure: deadlines are still computed, marked provisional).
    ``sla_timers``: due timers not yet fired (a growing number means no scanner is running)."""
    try:
        report = default_calendar().coverage_report()
    except Exception as exc:  # noqa: BLE001 - never fail readiness on calendar data
        report = {"ok": False, "warning": f"calendar unavailable: {exc!r}"}
    details: dict[str, Any] = {"calendar": report}
    try:
        async with runtime.engine.connect() as conn:
            overdue = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM case_timers "
                        "WHERE fired_at IS NULL AND due_at < now() - interval '1 minute'"
                    )
                )
            ).scalar_one()
        details["sla_timers"] = {"overdue_unfired": int(overdue)}
    except Exception as exc:  # noqa: BLE001 - reported by the database check already
        details["sla_timers"] = {"error": repr(exc)}
    return details
