"""Folding case events into ``measure_cases`` and ``measure_facts`` (see models.py).

The fold is pure (:func:`fold`): a case row and its running assignment in, the rows it touches out. The batch apply
(:func:`apply_measure_events`) loads the batch's cases (``FOR UPDATE``) and running assignments, folds every event
in order and upserts what changed: a few statements per batch. Exactly-once comes from the consumer's tracking
records (``processed_events``, written in the same transaction); the fold itself relies on each case's events
arriving in order (the topic is keyed by case id).

What each event does:

- every event: the case's current attributes (category, matter, street, grid, channel, lead, state, deadline);
  a case first seen through a later event (its ``created`` lost to retention) starts from that event;
- ``dispatched`` / ``reassigned`` / ``arbitrated``: ends the running assignment and starts one for the new lead
  (``sign_due_at`` from the event's ``sign_deadline_at``; none there: the configured fallback applies when asked);
- ``signed``: the running assignment's first sign; ``returned``: its first return (and the case's return count);
- ``return_approved``, ``merged``, ``transferred``, ``closed``: the running assignment ends (the department is
  released);
- ``reopened``, and ``verified`` back to 办理中 (核查未通过): the case's reopen count;
- ``replied``: a reply fact (on time when at or before the deadline the event carries);
- ``closed`` (not a merged follower closing with its master): a close fact, one-time when the case was never
  returned nor reopened before it;
- ``surveyed``: a survey fact with the result (and ``solved`` when the survey asked it).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.measures.models import MeasureCase, MeasureFact
from shared.db import table_of
from shared.events.cases import CaseEventV1

ASSIGN_ACTIONS = frozenset({"dispatched", "reassigned", "arbitrated"})
RELEASE_ACTIONS = frozenset({"return_approved", "merged", "transferred", "closed"})
CASE_COLUMNS = tuple(c.name for c in MeasureCase.__table__.columns)
FACT_COLUMNS = tuple(c.name for c in MeasureFact.__table__.columns)
_CHUNK = 1000  # rows per INSERT (asyncpg allows 32767 parameters per statement)
_GRID_FILE = Path(__file__).resolve().parents[2] / "intake" / "places" / "data" / "demo_district.geojson"
_STREET_PREFIX = re.compile(r"^(S\d{2})C\d")

Row = dict[str, Any]


@functools.cache
def _grid_streets() -> dict[str, str]:
    """Grid code → street code, from the district's reference map (grid → community → street)."""
    try:
        features = json.loads(_GRID_FILE.read_text(encoding="utf-8")).get("features", [])
    except (OSError, ValueError):
        return {}
    parent = {
        str(f["properties"]["code"]): str(f["properties"].get("parent") or "")
        for f in features
        if (f.get("properties") or {}).get("code")
    }
    level = {str(f["properties"]["code"]): f["properties"].get("level") for f in features if f.get("properties")}
    out: dict[str, str] = {}
    for code, lvl in level.items():
        if lvl != "grid":
            continue
        node = code
        for _ in range(4):
            node = parent.get(node, "")
            if level.get(node) == "street":
                out[code] = node
                break
    return out


def street_of_grid(grid: str | None) -> str | None:
    """The street a grid belongs to (the map, else the code's ``S01C…`` prefix)."""
    if not grid or grid == "-":
        return None
    found = _grid_streets().get(grid)
    if found:
        return found
    match = _STREET_PREFIX.match(grid)
    return match.group(1) if match else None


def _when(value: object) -> datetime | None:
    """A timestamp from event details (JSON: ISO text, or ``str(datetime)``)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _new_case(event: CaseEventV1) -> Row:
    return {
        "case_id": event.case_id,
        "tracking_code": event.tracking_code,
        "received_at": event.received_at or event.at,
        "channel": "-",
        "kind": None,
        "category": "-",
        "matter_code": None,
        "street_code": "-",
        "grid_code": "-",
        "lead": None,
        "state": event.to_state,
        "deadline_at": None,
        "events": 0,
        "returns": 0,
        "reopens": 0,
        "open_assignment": None,
        "survey_result": None,
        "closed_at": None,
        "last_event_at": event.at,
    }


def _fact(case: Row, n: int, kind: str, event: CaseEventV1, **values: Any) -> Row:
    row: Row = dict.fromkeys(FACT_COLUMNS)
    row.update(case_id=case["case_id"], n=n, kind=kind, at=event.at, department=event.lead, **values)
    return row


def fold(case: Row | None, running: Row | None, event: CaseEventV1) -> tuple[Row, Row | None, list[Row]]:
    """Apply one event. ``running``: the case's assignment that has not ended (or None).
    Returns (case row, running assignment after the event, fact rows touched by the event)."""
    case = dict(case) if case is not None else _new_case(event)
    running = dict(running) if running is not None else None
    case["events"] += 1
    n = case["events"]
    place = event.place
    grid = place.grid_code if place and place.grid_code else None
    street = (place.street_code if place and place.street_code else None) or street_of_grid(grid)
    case.update(
        state=event.to_state,
        lead=event.lead,
        deadline_at=event.deadline,
        last_event_at=event.at,
        channel=event.channel or case["channel"],
        kind=event.kind or case["kind"],
        category=event.category or case["category"],
        matter_code=event.matter_code or case["matter_code"],
        grid_code=grid or case["grid_code"],
        street_code=street or case["street_code"],
    )
    if event.received_at is not None:
        case["received_at"] = event.received_at
    touched: list[Row] = []
    action = event.action

    def release() -> None:
        nonlocal running
        if running is not None:
            running["ended_at"] = event.at
            touched.append(running)
            running = None
        case["open_assignment"] = None

    if action in ASSIGN_ACTIONS:
        release()
        running = _fact(case, n, "assigned", event, sign_due_at=_when(event.details.get("sign_deadline_at")))
        case["open_assignment"] = n
        touched.append(running)
    elif action == "signed":
        if running is not None and running["signed_at"] is None:
            running["signed_at"] = event.at
            touched.append(running)
    elif action == "returned":
        case["returns"] += 1
        if running is not None and running["returned_at"] is None:
            running["returned_at"] = event.at
            touched.append(running)
    elif action == "reopened" or (action == "verified" and event.to_state == "signed"):
        case["reopens"] += 1
    elif action == "replied":
        on_time = event.deadline is None or event.at <= event.deadline
        touched.append(_fact(case, n, "replied", event, deadline_at=event.deadline, on_time=on_time))
    elif action == "surveyed":
        result = event.details.get("result")
        solved = event.details.get("solved")
        touched.append(
            _fact(
                case,
                n,
                "surveyed",
                event,
                result=str(result)[:8] if result is not None else None,
                solved=solved if isinstance(solved, bool) else None,
            )
        )
        case["survey_result"] = str(result)[:8] if result is not None else case["survey_result"]
    if action == "closed" and event.from_state != "merged":
        reopened = case["reopens"] > 0
        one_time = case["returns"] == 0 and not reopened
        touched.append(_fact(case, n, "closed", event, one_time=one_time, reopened_before=reopened))
        case["closed_at"] = event.at
    if action in RELEASE_ACTIONS:
        release()
    return case, running, touched


def _assignment_key(case_id: str, n: int | None) -> tuple[str, int] | None:
    return (case_id, n) if n is not None else None


async def apply_measure_events(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    """Fold a batch of case events into the measure projections (the caller owns the transaction)."""
    if not events:
        return
    ids = sorted({e.case_id for e in events})
    cases: dict[str, Row] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found = (
            await session.execute(select(MeasureCase).where(MeasureCase.case_id.in_(chunk)).with_for_update())
        ).scalars()
        cases.update({c.case_id: {col: getattr(c, col) for col in CASE_COLUMNS} for c in found})
    keys = [k for c in cases.values() if (k := _assignment_key(c["case_id"], c["open_assignment"])) is not None]
    running: dict[str, Row] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk_keys = keys[start : start + _CHUNK]
        stmt = select(MeasureFact).where(
            MeasureFact.case_id.in_([k[0] for k in chunk_keys]), MeasureFact.kind == "assigned"
        )
        wanted = set(chunk_keys)
        for fact in (await session.execute(stmt.where(and_(MeasureFact.ended_at.is_(None))))).scalars():
            if (fact.case_id, fact.n) in wanted:
                running[fact.case_id] = {col: getattr(fact, col) for col in FACT_COLUMNS}
    facts: dict[tuple[str, int], Row] = {}
    for event in events:
        case, run, touched = fold(cases.get(event.case_id), running.get(event.case_id), event)
        cases[event.case_id] = case
        if run is None:
            running.pop(event.case_id, None)
        else:
            running[event.case_id] = run
        for row in touched:
            facts[(row["case_id"], row["n"])] = row
    await _upsert(session, MeasureCase, [cases[i] for i in ids if i in cases], ("case_id",), CASE_COLUMNS)
    await _upsert(session, MeasureFact, [facts[k] for k in sorted(facts)], ("case_id", "n"), FACT_COLUMNS)


async def _upsert(
    session: AsyncSession, model: type[Any], rows: list[Row], keys: tuple[str, ...], columns: tuple[str, ...]
) -> None:
    for start in range(0, len(rows), _CHUNK):
        chunk = [{c: r[c] for c in columns} for r in rows[start : start + _CHUNK]]
        stmt = insert(table_of(model))
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns if c not in keys}
        )
        await session.execute(stmt, chunk)
