"""The SLA gauges' query against the real dispatch schema: open, yellow (预警), red (超期) and overdue per lead
department, and due timers nobody fired."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, insert

from services.dispatch.case.models import Case
from services.dispatch.sla.metrics import measure
from services.dispatch.sla.models import CaseTimer
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings
from tests.integration.dispatch_factory import add_cases, new_case

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_levels_per_department(settings: Settings) -> None:
    engine = make_engine(settings, "dispatch", pool_size=2)
    now = dt.datetime.now(dt.UTC)
    past, future = now - dt.timedelta(hours=2), now + dt.timedelta(days=2)
    department = f"M{uuid.uuid4().hex[:6].upper()}"
    cases = [
        new_case(lead=department, state="signed", deadline_at=past),  # red and overdue
        new_case(lead=department, state="signed", deadline_at=future),  # yellow (its yellow point passed)
        new_case(lead=department, state="dispatched", deadline_at=future),  # green
        new_case(lead=department, state="suspended", deadline_at=past),  # overdue, the clock stopped: not red
        new_case(lead=department, state="signed", deadline_at=future),  # extended: its current yellow is later
        new_case(lead=department, state="closed", deadline_at=past),  # not open
    ]
    ids = [c.id for c in cases]
    timers = [
        {"case_id": ids[1], "kind": "yellow", "due_at": past, "fired_at": past, "outcome": "fired"},
        {"case_id": ids[2], "kind": "yellow", "due_at": future - dt.timedelta(hours=3)},
        {"case_id": ids[4], "kind": "yellow", "due_at": past, "fired_at": past, "outcome": "fired"},
        {"case_id": ids[4], "kind": "yellow", "due_at": future - dt.timedelta(hours=3)},
        {"case_id": ids[0], "kind": "red", "due_at": now - dt.timedelta(minutes=5)},  # due, never fired
    ]
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await add_cases(session, cases)
            for row in timers:  # in this order: ids grow, the later yellow is the current one
                await session.execute(insert(CaseTimer), [row])
        async with engine.connect() as conn:
            counts, unfired = await measure(conn)
        assert counts[department] == {"open": 5, "yellow": 1, "red": 1, "overdue": 2}
        assert unfired >= 1
    finally:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(delete(CaseTimer).where(CaseTimer.case_id.in_(ids)))
            await session.execute(delete(Case).where(Case.id.in_(ids)))
        await engine.dispose()
