"""Projections of the case stream and the queries behind ``/api/v1/stats/…`` and open data.

One batch of case events is applied with a handful of statements (no per-event commit):
``daily_counts`` (every action per day/category/channel/street), ``grid_daily_counts`` (cases
created per grid/category/day), ``case_status`` (each case's latest state, deadline, reply
timeliness, warnings: folded in Python, one upsert) and ``ticker_events`` (the latest events,
pruned). Nothing personal is projected: no text, no reporter, no address.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.stats import names
from services.analytics.stats.models import CaseStatus, DailyCount, GridDailyCount, TickerEvent
from shared.db import table_of
from shared.events.cases import CaseEventV1

SHANGHAI = ZoneInfo("Asia/Shanghai")
Key = tuple[date, str, str, str, str]

HANDLING_STATES = frozenset({"accepted", "triage", "dispatched", "signed", "returned", "suspended"})
"""在办: somebody still has to act (the SLA clock runs, except while suspended)."""
CLOCK_STATES = ("triage", "dispatched", "signed", "returned")
"""States in which a case can be overdue (挂起 stops the clock; replied cases wait for the survey)."""
TICKER_KEEP = 500


def local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def today() -> date:
    return datetime.now(SHANGHAI).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def _street(event: CaseEventV1) -> str:
    return event.place.street_code if event.place and event.place.street_code else "-"


def _grid(event: CaseEventV1) -> str:
    return event.place.grid_code if event.place and event.place.grid_code else "-"


def count_key(event: CaseEventV1) -> Key:
    return (local_day(event.at), event.action, event.category or "-", event.channel or "-", _street(event))


# ---------------------------------------------------------------------------------------------- projection
def _new_status(event: CaseEventV1) -> dict[str, Any]:
    return {
        "case_id": event.case_id,
        "state": event.to_state,
        "is_open": event.to_state in HANDLING_STATES,
        "channel": event.channel or "-",
        "category": event.category or "-",
        "street_code": _street(event),
        "grid_code": _grid(event),
        "lead": event.lead,
        "received_at": event.received_at or event.at,
        "deadline_at": event.deadline,
        "dispatched_at": None,
        "signed_at": None,
        "replied_at": None,
        "replied_on_time": None,
        "closed_at": None,
        "warn_level": None,
        "urged": 0,
        "supervised": 0,
        "publicized": False,
        "last_action": event.action,
        "last_event_at": event.at,
    }


def fold_status(row: dict[str, Any] | None, event: CaseEventV1) -> dict[str, Any]:
    """The case's status row after ``event`` (pure; events of one case arrive in order)."""
    row = dict(row) if row is not None else _new_status(event)
    row.update(
        state=event.to_state,
        is_open=event.to_state in HANDLING_STATES,
        lead=event.lead,
        deadline_at=event.deadline,
        last_action=event.action,
        last_event_at=event.at,
        category=event.category or row["category"],
        channel=event.channel or row["channel"],
    )
    if event.place and event.place.street_code:
        row["street_code"] = event.place.street_code
    if event.place and event.place.grid_code:
        row["grid_code"] = event.place.grid_code
    action = event.action
    if action in ("dispatched", "reassigned", "arbitrated"):
        row["dispatched_at"] = row["dispatched_at"] or event.at
        row["signed_at"] = None if action != "dispatched" else row["signed_at"]
        row["warn_level"] = None
    elif action == "signed":
        row["signed_at"] = event.at
    elif action == "replied":
        row["replied_at"] = event.at
        row["replied_on_time"] = event.deadline is None or event.at <= event.deadline
    elif action == "reopened":
        row["warn_level"] = None
    elif action in ("closed", "transferred"):
        row["closed_at"] = event.at
    elif action == "warned":
        level = str(event.details.get("level") or "yellow")
        if level in ("yellow", "red") and not (row["warn_level"] == "red" and level == "yellow"):
            row["warn_level"] = level
    elif action == "urged":
        row["urged"] += 1
        if event.details.get("level") == "yellow" and row["warn_level"] != "red":
            row["warn_level"] = "yellow"  # dispatch's 预警催办: 80 % of the limit in working time
    elif action == "supervised":
        row["supervised"] += 1
        row["warn_level"] = "red"
    elif action == "publicized":
        row["publicized"] = True
    elif action == "extension_approved":
        row["warn_level"] = None
    return row


async def apply_case_events(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    if not events:
        return
    await _count_daily(session, events)
    await _count_grids(session, events)
    await _move_placed(session, events)
    await _fold_statuses(session, events)
    await _ticker(session, events)


async def _count_daily(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    counts = Counter(count_key(e) for e in events)
    rows = [
        {"day": k[0], "action": k[1], "category": k[2], "channel": k[3], "street_code": k[4], "count": n}
        for k, n in sorted(counts.items())
    ]
    table = table_of(DailyCount)
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "action", "category", "channel", "street_code"],
        set_={"count": table.c.count + stmt.excluded.count},
    )
    await session.execute(stmt, rows)


async def _count_grids(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    # one row per (day, grid, category) in the batch: ON CONFLICT may touch a row only once per statement, and
    # cases without a grid ("-") can name different streets
    counts: Counter[tuple[date, str, str]] = Counter()
    streets: dict[tuple[date, str, str], str] = {}
    for e in events:
        if e.action != "created":
            continue
        key = (local_day(e.at), _grid(e), e.category or "-")
        counts[key] += 1
        if streets.get(key, "-") == "-":
            streets[key] = _street(e)
    if not counts:
        return
    rows = [
        {"day": d, "grid_code": g, "category": c, "street_code": streets[(d, g, c)], "count": n}
        for (d, g, c), n in sorted(counts.items())
    ]
    table = table_of(GridDailyCount)
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "grid_code", "category"], set_={"count": table.c.count + stmt.excluded.count}
    )
    await session.execute(stmt, rows)


async def _move_placed(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    """A case created without its street/grid and placed later by a supplement (details ``placed``: where it
    was counted, its creation time and category) moves its ``created`` count to its street and grid."""
    for e in events:
        placed = e.details.get("placed") if e.action == "supplemented" else None
        if not isinstance(placed, dict) or not placed.get("created_at"):
            continue
        day = local_day(datetime.fromisoformat(str(placed["created_at"])))
        category, channel = str(placed.get("category") or e.category or "-"), e.channel or "-"
        old_street, new_street = str(placed.get("from_street") or "-"), _street(e)
        if old_street != new_street and await _take_one(
            session,
            DailyCount,
            DailyCount.day == day,
            DailyCount.action == "created",
            DailyCount.category == category,
            DailyCount.channel == channel,
            DailyCount.street_code == old_street,
        ):
            row = {"day": day, "action": "created", "category": category, "channel": channel}
            stmt = insert(DailyCount).values(**row, street_code=new_street, count=1)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["day", "action", "category", "channel", "street_code"],
                    set_={"count": DailyCount.count + 1},
                )
            )
        old_grid, new_grid = str(placed.get("from_grid") or "-"), _grid(e)
        if old_grid != new_grid and await _take_one(
            session,
            GridDailyCount,
            GridDailyCount.day == day,
            GridDailyCount.grid_code == old_grid,
            GridDailyCount.category == category,
        ):
            grid_stmt = insert(GridDailyCount).values(
                day=day, grid_code=new_grid, category=category, street_code=new_street, count=1
            )
            await session.execute(
                grid_stmt.on_conflict_do_update(
                    index_elements=["day", "grid_code", "category"], set_={"count": GridDailyCount.count + 1}
                )
            )


async def _take_one(session: AsyncSession, model: Any, *where: Any) -> bool:
    """Decrement the count of the row matching ``where`` if it has one to give (dropping a row left at 0)."""
    taken = await session.execute(
        update(model).where(*where, model.count > 0).values(count=model.count - 1).returning(model.count)
    )
    left = taken.scalar_one_or_none()
    if left == 0:
        await session.execute(delete(model).where(*where, model.count == 0))
    return left is not None


_STATUS_COLUMNS = [c.name for c in CaseStatus.__table__.columns]


async def _fold_statuses(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    ids = sorted({e.case_id for e in events})
    found = (await session.execute(select(CaseStatus).where(CaseStatus.case_id.in_(ids)).with_for_update())).scalars()
    rows: dict[str, dict[str, Any] | None] = {s.case_id: {c: getattr(s, c) for c in _STATUS_COLUMNS} for s in found}
    for event in events:
        rows[event.case_id] = fold_status(rows.get(event.case_id), event)
    values = [row for i in ids if (row := rows.get(i)) is not None]
    if not values:
        return
    stmt = insert(table_of(CaseStatus))
    stmt = stmt.on_conflict_do_update(
        index_elements=["case_id"], set_={c: stmt.excluded[c] for c in _STATUS_COLUMNS if c != "case_id"}
    )
    await session.execute(stmt, values)


async def _ticker(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    rows = [
        {
            "at": e.at,
            "action": e.action,
            "category": e.category or "-",
            "channel": e.channel or "-",
            "street_code": _street(e),
            "grid_code": _grid(e),
            "lead": e.lead,
            "tracking_code": e.tracking_code,
        }
        for e in events[-TICKER_KEEP:]
    ]
    await session.execute(insert(table_of(TickerEvent)), rows)
    newest = (await session.execute(select(func.max(TickerEvent.id)))).scalar_one()
    if newest is not None and newest > TICKER_KEEP:
        await session.execute(delete(TickerEvent).where(TickerEvent.id <= newest - TICKER_KEEP))


# ---------------------------------------------------------------------------------------------- queries
async def summary(session: AsyncSession, day: date | None = None) -> dict[str, object]:
    stmt = select(DailyCount.action, func.sum(DailyCount.count)).group_by(DailyCount.action)
    by_cat = select(DailyCount.category, func.sum(DailyCount.count)).where(DailyCount.action == "created")
    by_channel = select(DailyCount.channel, func.sum(DailyCount.count)).where(DailyCount.action == "created")
    if day:
        stmt = stmt.where(DailyCount.day == day)
        by_cat = by_cat.where(DailyCount.day == day)
        by_channel = by_channel.where(DailyCount.day == day)
    actions = {a: int(n) for a, n in (await session.execute(stmt)).all()}
    categories = {c: int(n) for c, n in (await session.execute(by_cat.group_by(DailyCount.category))).all()}
    channels = {c: int(n) for c, n in (await session.execute(by_channel.group_by(DailyCount.channel))).all()}
    return {
        "day": day.isoformat() if day else None,
        "cases_created": actions.get("created", 0),
        "by_action": actions,
        "by_category": categories,
        "by_channel": channels,
    }


def _overdue_clause(now: datetime) -> Any:
    return and_(CaseStatus.state.in_(CLOCK_STATES), CaseStatus.deadline_at.is_not(None), CaseStatus.deadline_at < now)


def _warning_clause(now: datetime) -> Any:
    # dispatch's SLA timers decide 预警 in working time (urged level yellow / warned); not the wall clock here
    return and_(
        CaseStatus.state.in_(CLOCK_STATES),
        CaseStatus.deadline_at.is_not(None),
        CaseStatus.deadline_at >= now,
        CaseStatus.warn_level.in_(("yellow", "red")),
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _named(counts: dict[str, int], namer: Any, order: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``[{code, name, count}]``: the ``order`` codes first (zeros included), then the rest by count."""
    items = [{"code": c, "name": namer(c), "count": counts.get(c, 0)} for c in order]
    rest = sorted(((c, n) for c, n in counts.items() if c not in order), key=lambda x: (-x[1], x[0]))
    items += [{"code": c, "name": namer(c), "count": n} for c, n in rest]
    return items


async def overview(session: AsyncSession, day: date | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Everything the big screen's figures need for one day (Asia/Shanghai), plus live open/overdue counts."""
    day = day or today()
    now = now or datetime.now(UTC)
    start, end = day_bounds(day)
    created = DailyCount.action == "created"

    async def grouped(column: Any) -> dict[str, int]:
        stmt = select(column, func.sum(DailyCount.count)).where(created, DailyCount.day == day).group_by(column)
        return {str(k): int(n) for k, n in (await session.execute(stmt)).all()}

    actions = {
        str(a): int(n)
        for a, n in (
            await session.execute(
                select(DailyCount.action, func.sum(DailyCount.count))
                .where(DailyCount.day == day)
                .group_by(DailyCount.action)
            )
        ).all()
    }
    by_channel = await grouped(DailyCount.channel)
    by_category = await grouped(DailyCount.category)
    by_street = await grouped(DailyCount.street_code)
    hour = cast(func.extract("hour", func.timezone("Asia/Shanghai", CaseStatus.received_at)), Integer)
    hours: dict[int, int] = {
        int(h): int(n)
        for h, n in (
            await session.execute(
                select(hour, func.count())
                .where(CaseStatus.received_at >= start, CaseStatus.received_at < end)
                .group_by(hour)
            )
        ).all()
    }
    live = (
        await session.execute(
            select(
                func.count().filter(CaseStatus.is_open),
                func.count().filter(_overdue_clause(now)),
                func.count().filter(_warning_clause(now)),
                func.count().filter(CaseStatus.state.in_(("replied", "verified", "surveyed"))),
                func.count().filter(CaseStatus.state == "triage"),
                func.count().filter(and_(CaseStatus.replied_at >= start, CaseStatus.replied_at < end)),
                func.count().filter(
                    and_(
                        CaseStatus.replied_at >= start,
                        CaseStatus.replied_at < end,
                        CaseStatus.replied_on_time.is_(True),
                    )
                ),
                func.count().filter(CaseStatus.replied_at.is_not(None)),
                func.count().filter(CaseStatus.replied_on_time.is_(True)),
            )
        )
    ).one()
    handling, overdue, warning, awaiting_survey, triage, replied_day, on_time_day, replied_all, on_time_all = (
        int(x) for x in live
    )
    return {
        "day": day.isoformat(),
        "generated_at": now.isoformat(),
        "volume": actions.get("created", 0),
        "dispatched": actions.get("dispatched", 0),
        "replied": actions.get("replied", 0),
        "closed": actions.get("closed", 0),
        "transferred": actions.get("transferred", 0),
        "urged": actions.get("urged", 0),
        "supervised": actions.get("supervised", 0),
        "open": handling,
        "triage": triage,
        "overdue": overdue,
        "warning": warning,
        "awaiting_survey": awaiting_survey,
        "on_time": {
            "replied": replied_day,
            "on_time": on_time_day,
            "rate": _rate(on_time_day, replied_day),
            "replied_all": replied_all,
            "on_time_all": on_time_all,
            "rate_all": _rate(on_time_all, replied_all),
        },
        "by_channel": _named(by_channel, lambda c: names.CHANNEL_NAMES.get(c, c), tuple(names.CHANNEL_NAMES)),
        "by_category": _named(by_category, names.category_name),
        "by_street": _named(by_street, names.street_name, tuple(names.street_names())),
        "by_hour": [{"hour": h, "count": int(hours.get(h, 0))} for h in range(24)],
    }


async def hotspots(
    session: AsyncSession,
    day: date | None = None,
    *,
    baseline_days: int = 7,
    min_count: int = 2,
    factor: float = 2.0,
    limit: int = 20,
) -> dict[str, Any]:
    """Grids whose volume on ``day`` exceeds their own baseline (the mean of the ``baseline_days`` before):
    hot when ``count >= min_count`` and ``count >= factor × baseline``."""
    day = day or today()
    first = day - timedelta(days=baseline_days)
    rows = (
        await session.execute(
            select(
                GridDailyCount.grid_code,
                GridDailyCount.street_code,
                GridDailyCount.category,
                GridDailyCount.day,
                GridDailyCount.count,
            ).where(GridDailyCount.day >= first, GridDailyCount.day <= day, GridDailyCount.grid_code != "-")
        )
    ).all()
    todays: Counter[str] = Counter()
    before: Counter[str] = Counter()
    cats: dict[str, Counter[str]] = {}
    streets: dict[str, str] = {}
    for grid, street, category, d, n in rows:
        streets[grid] = street
        if d == day:
            todays[grid] += int(n)
            cats.setdefault(grid, Counter())[category] += int(n)
        else:
            before[grid] += int(n)
    items: list[dict[str, Any]] = []
    for grid, count in todays.items():
        baseline = before[grid] / baseline_days
        top = cats[grid].most_common(1)[0][0]
        items.append(
            {
                "grid_code": grid,
                "grid_name": names.grid_name(grid),
                "street_code": streets[grid],
                "street_name": names.street_name(streets[grid]),
                "count": count,
                "baseline": round(baseline, 2),
                "excess": round(count - baseline, 2),
                "hot": count >= min_count and count >= factor * baseline,
                "top_category": top,
                "top_category_name": names.category_name(top),
            }
        )
    items.sort(key=lambda i: (not i["hot"], -i["excess"], i["grid_code"]))
    return {
        "day": day.isoformat(),
        "baseline_days": baseline_days,
        "min_count": min_count,
        "factor": factor,
        "items": items[:limit],
    }


async def departments(session: AsyncSession, now: datetime | None = None, limit: int = 15) -> dict[str, Any]:
    """Per lead department: cases in handling, overdue, replied, on-time rate (all time)."""
    now = now or datetime.now(UTC)
    stmt = (
        select(
            CaseStatus.lead,
            func.count().filter(CaseStatus.is_open),
            func.count().filter(_overdue_clause(now)),
            func.count().filter(CaseStatus.replied_at.is_not(None)),
            func.count().filter(CaseStatus.replied_on_time.is_(True)),
        )
        .where(CaseStatus.lead.is_not(None))
        .group_by(CaseStatus.lead)
    )
    items: list[dict[str, Any]] = []
    for lead, open_, overdue, replied, on_time in (await session.execute(stmt)).all():
        items.append(
            {
                "code": lead,
                "name": names.department_name(lead),
                "open": int(open_),
                "overdue": int(overdue),
                "replied": int(replied),
                "on_time": int(on_time),
                "on_time_rate": _rate(int(on_time), int(replied)),
            }
        )
    items.sort(key=lambda i: (-i["overdue"], -i["open"], i["code"]))
    return {"items": items[:limit]}


async def latest_events(session: AsyncSession, limit: int = 20) -> dict[str, Any]:
    """The newest case events, anonymised: action, category, street, grid, masked tracking code."""
    rows = (
        await session.execute(select(TickerEvent).order_by(TickerEvent.at.desc(), TickerEvent.id.desc()).limit(limit))
    ).scalars()
    return {
        "items": [
            {
                "at": r.at.isoformat(),
                "action": r.action,
                "action_name": names.ACTION_NAMES.get(r.action, r.action),
                "category": r.category,
                "category_name": names.category_name(r.category),
                "channel": r.channel,
                "channel_name": names.CHANNEL_NAMES.get(r.channel, r.channel),
                "street_code": r.street_code,
                "street_name": names.street_name(r.street_code),
                "grid_code": r.grid_code,
                "grid_name": names.grid_name(r.grid_code),
                "department": names.department_name(r.lead) if r.lead else None,
                "tracking_code": names.mask_tracking_code(r.tracking_code),
            }
            for r in rows
        ]
    }


OPEN_DATA_COLUMNS = (
    "day",
    "street_code",
    "street_name",
    "grid_code",
    "grid_name",
    "category",
    "category_name",
    "cases",
)


async def open_data_rows(session: AsyncSession, start: date, end: date) -> list[tuple[Any, ...]]:
    """Cases created per day, grid and category (aggregates only: no text, no people, no addresses)."""
    rows = (
        await session.execute(
            select(
                GridDailyCount.day,
                GridDailyCount.street_code,
                GridDailyCount.grid_code,
                GridDailyCount.category,
                func.sum(GridDailyCount.count),
            )
            .where(GridDailyCount.day >= start, GridDailyCount.day <= end)
            .group_by(GridDailyCount.day, GridDailyCount.street_code, GridDailyCount.grid_code, GridDailyCount.category)
            .order_by(GridDailyCount.day, GridDailyCount.grid_code, GridDailyCount.category)
        )
    ).all()
    return [
        (d.isoformat(), s, names.street_name(s), g, names.grid_name(g), c, names.category_name(c), int(n))
        for d, s, g, c, n in rows
    ]


__all__ = [
    "apply_case_events",
    "count_key",
    "departments",
    "fold_status",
    "hotspots",
    "latest_events",
    "open_data_rows",
    "overview",
    "summary",
]
