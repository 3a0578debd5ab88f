"""The set of emergency hand-offs awaiting acknowledgement, folded from dispatch's case events.

- ``transferred`` (the case's transfer to 110/119/120/122; ``details.service``) opens the row: from then on the
  command center waits for the emergency service to confirm it has the case;
- ``handoff_sent`` / ``handoff_escalated`` (``details``: ``handoff_id``, ``service``, ``alert_level``,
  ``escalations``) record the push and every escalation (the alert level only rises);
- ``handoff_acknowledged`` closes it: the alert leaves the display.

Idempotent and order-tolerant within a case: times are kept once set, levels and escalation counts only grow, so
an event applied twice (or the whole stream replayed by ``linkage analytics rebuild``) gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.handoffs.models import HandoffStatus
from shared.db import table_of
from shared.events.cases import CaseEventV1

ACTIONS = frozenset({"transferred", "handoff_sent", "handoff_escalated", "handoff_acknowledged"})
SERVICE_NAMES: dict[str, str] = {
    "110": "110 公安报警",
    "119": "119 消防救援",
    "120": "120 医疗急救",
    "122": "122 交通事故",
}
ALERT_NAMES: dict[int, str] = {1: "一级", 2: "二级", 3: "三级", 4: "四级", 5: "五级"}
COLUMNS = (
    "case_id",
    "handoff_id",
    "tracking_code",
    "service",
    "category",
    "matter_code",
    "street_code",
    "grid_code",
    "alert_level",
    "escalations",
    "transferred_at",
    "sent_at",
    "acknowledged_at",
    "last_event_at",
)


def service_name(service: str | None) -> str:
    code = str(service or "")
    return SERVICE_NAMES.get(code, f"{code} 紧急服务" if code else "紧急服务")


def alert_name(level: int) -> str:
    return ALERT_NAMES.get(level, f"{level}级")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def fold(row: dict[str, Any] | None, event: CaseEventV1) -> dict[str, Any]:
    """The case's hand-off row after ``event`` (pure; ``event.action`` in :data:`ACTIONS`)."""
    d = event.details or {}
    place = event.place
    if row is None:
        row = {
            "case_id": event.case_id,
            "handoff_id": None,
            "tracking_code": event.tracking_code,
            "service": "",
            "category": None,
            "matter_code": None,
            "street_code": "-",
            "grid_code": "-",
            "alert_level": 1,
            "escalations": 0,
            "transferred_at": event.at,
            "sent_at": None,
            "acknowledged_at": None,
            "last_event_at": event.at,
        }
    else:
        row = dict(row)
    service = d.get("service") or row["service"] or event.lead or "110"
    row.update(
        service=str(service)[:8],
        category=event.category or row["category"],
        matter_code=event.matter_code or row["matter_code"],
        alert_level=max(row["alert_level"], _int(d.get("alert_level"), 1)),
        escalations=max(row["escalations"], _int(d.get("escalations"), 0)),
        last_event_at=max(row["last_event_at"], event.at),
    )
    if place is not None and place.street_code:
        row["street_code"] = place.street_code
    if place is not None and place.grid_code:
        row["grid_code"] = place.grid_code
    if d.get("handoff_id"):
        row["handoff_id"] = str(d["handoff_id"])[:26]
    if event.action == "transferred":
        row["transferred_at"] = _earliest(row["transferred_at"], event.at)
    elif event.action == "handoff_sent":
        row["sent_at"] = _earliest(row["sent_at"], event.at)
    elif event.action == "handoff_acknowledged":
        row["acknowledged_at"] = _earliest(row["acknowledged_at"], event.at)
    return row


async def apply_handoff_events(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    """Fold one batch of case events into ``handoff_status`` (one read, one upsert)."""
    mine = [e for e in events if e.action in ACTIONS]
    if not mine:
        return
    ids = sorted({e.case_id for e in mine})
    found = (await session.execute(select(HandoffStatus).where(HandoffStatus.case_id.in_(ids)))).scalars()
    rows: dict[str, dict[str, Any]] = {r.case_id: {c: getattr(r, c) for c in COLUMNS} for r in found}
    for event in mine:
        rows[event.case_id] = fold(rows.get(event.case_id), event)
    stmt = insert(table_of(HandoffStatus))
    stmt = stmt.on_conflict_do_update(
        index_elements=["case_id"], set_={c: stmt.excluded[c] for c in COLUMNS if c != "case_id"}
    )
    await session.execute(stmt, [rows[i] for i in ids])


async def waiting(session: AsyncSession, *, limit: int = 20) -> tuple[list[HandoffStatus], int]:
    """(the hand-offs awaiting acknowledgement, highest alert level and longest waiting first; how many in all)."""
    open_ = HandoffStatus.acknowledged_at.is_(None)
    total = int((await session.execute(select(func.count()).select_from(HandoffStatus).where(open_))).scalar_one())
    rows = (
        await session.execute(
            select(HandoffStatus)
            .where(open_)
            .order_by(HandoffStatus.alert_level.desc(), HandoffStatus.transferred_at, HandoffStatus.case_id)
            .limit(limit)
        )
    ).scalars()
    return list(rows), total
