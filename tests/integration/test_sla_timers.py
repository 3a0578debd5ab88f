"""SLA timers fire exactly once: two scanners racing over the same due rows, and a scanner killed mid-scan."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.case.models import Case
from services.dispatch.sla.models import CaseTimer
from services.dispatch.sla.service import (
    fire_due_timers,
    on_case_transition,
    schedule_case_timers,
    timers_for,
)
from shared.db import make_engine, make_sessionmaker
from shared.outbox import OutboxRow
from shared.settings import Settings
from tests.integration.dispatch_factory import add_cases, new_case
from tests.support import Infra

pytestmark = pytest.mark.asyncio(loop_scope="session")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def makers(settings: Settings) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Two independent engines = two dispatch replicas' connection pools."""
    engines = [make_engine(settings, "dispatch", pool_size=4) for _ in range(2)]
    try:
        yield [make_sessionmaker(e) for e in engines]
    finally:
        for e in engines:
            await e.dispose()


async def _due_cases(maker: async_sessionmaker[AsyncSession], n: int, kind: str = "red") -> list[str]:
    """``n`` signed, overdue cases, each with one due timer of ``kind``."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    async with maker() as session, session.begin():
        cases = await add_cases(session, [new_case() for _ in range(n)])
        ids = [c.id for c in cases]
        # the real plan first (so the red timer matches the deadline), then force the kind due now
        for c in cases:
            await schedule_case_timers(session, c, sign=False)
        await session.execute(
            text("DELETE FROM case_timers WHERE case_id = ANY(:ids) AND kind <> :kind"), {"ids": ids, "kind": kind}
        )
        if kind != "red":
            await session.execute(
                text("UPDATE case_timers SET due_at = :past WHERE case_id = ANY(:ids)"), {"ids": ids, "past": past}
            )
    return ids


async def _fired(maker: async_sessionmaker[AsyncSession], ids: list[str]) -> tuple[int, int, int]:
    """(timers fired, supervised outbox events, supervise history entries) for these cases."""
    async with maker() as session:
        fired = (
            await session.execute(
                select(func.count())
                .select_from(CaseTimer)
                .where(CaseTimer.case_id.in_(ids), CaseTimer.outcome == "fired")
            )
        ).scalar_one()
        events = (
            await session.execute(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.key.in_(ids), OutboxRow.event_type == "cn.linkage.case.supervised.v1")
            )
        ).scalar_one()
        history = (
            await session.execute(
                text("SELECT count(*) FROM case_history WHERE case_id = ANY(:ids) AND action = 'supervised'"),
                {"ids": ids},
            )
        ).scalar_one()
    return int(fired), int(events), int(history)


async def _drain(maker: async_sessionmaker[AsyncSession], ids: list[str], limit: int) -> dict[str, int]:
    total = {"fired": 0, "skipped": 0, "failed": 0, "retry": 0, "busy": 0}
    while True:
        counts = await fire_due_timers(maker, limit=limit)
        for k, v in counts.items():
            total[k] += v
        async with maker() as session:
            left = (
                await session.execute(
                    select(func.count())
                    .select_from(CaseTimer)
                    .where(CaseTimer.case_id.in_(ids), CaseTimer.fired_at.is_(None), CaseTimer.due_at <= func.now())
                )
            ).scalar_one()
        if not left:
            return total
        if not any(counts.values()):
            await asyncio.sleep(0.05)


async def test_two_scanners_fire_each_timer_exactly_once(makers: list[async_sessionmaker[AsyncSession]]) -> None:
    ids = await _due_cases(makers[0], 200)
    started = time.perf_counter()
    results = await asyncio.gather(*(_drain(m, ids, 25) for m in makers for _ in range(2)))
    elapsed = time.perf_counter() - started
    # other tests' overdue cases share this database, so the scanners' own totals may include theirs;
    # exactly-once is checked per timer of these 200 cases
    assert await _fired(makers[0], ids) == (200, 200, 200)
    print(
        f"\n200 red timers, 4 scanners on 2 engines: {elapsed:.2f}s ({200 / elapsed:.0f} timers/s); "
        f"per scanner {[r['fired'] for r in results]}"
    )
    # another pass fires nothing more for these cases
    await fire_due_timers(makers[1], limit=500)
    assert await _fired(makers[0], ids) == (200, 200, 200)


_KILLABLE_SCANNER = """
import asyncio, sys
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings
from services.dispatch.sla.service import fire_due_timers
from services.dispatch.wiring import install_listeners

async def main():
    install_listeners()
    maker = make_sessionmaker(make_engine(Settings(), "dispatch", pool_size=2))
    print("ready", flush=True)
    while True:
        await fire_due_timers(maker, limit=10)  # small batches: the kill lands mid-run even on a fast machine

asyncio.run(main())
"""


async def test_scanner_killed_mid_scan_loses_nothing(
    infra: Infra, makers: list[async_sessionmaker[AsyncSession]]
) -> None:
    ids = await _due_cases(makers[0], 200)
    proc = subprocess.Popen(  # noqa: ASYNC220 - a real process, so it can be SIGKILLed mid-scan
        [sys.executable, "-c", _KILLABLE_SCANNER],
        env=infra.env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fired, _, _ = await _fired(makers[0], ids)
            if fired > 0:
                break
            await asyncio.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # most likely in the middle of its next batch
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    fired_before, _, _ = await _fired(makers[0], ids)
    assert 0 < fired_before < 200, (fired_before, proc.stdout.read() if proc.stdout else b"")
    await asyncio.gather(*(_drain(m, ids, 25) for m in makers))
    assert await _fired(makers[0], ids) == (200, 200, 200)


async def test_timer_for_a_case_that_moved_on_is_skipped(makers: list[async_sessionmaker[AsyncSession]]) -> None:
    maker = makers[0]
    async with maker() as session, session.begin():
        closed, moved = await add_cases(session, [new_case(state="closed"), new_case()])
        for c in (closed, moved):
            await schedule_case_timers(session, c, sign=False)
        # an extension pushed the deadline without a reschedule: the old red timer is stale
        moved.deadline_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    await _drain(maker, [closed.id, moved.id], 50)
    async with maker() as session:
        closed_timers = await timers_for(session, closed.id)
        assert {t.outcome for t in closed_timers if t.fired_at} == {"skipped"}
        moved_timers = await timers_for(session, moved.id)
        red = [t for t in moved_timers if t.kind == "red"]
        assert [t.outcome for t in red if t.fired_at] == ["skipped"]
        healed = [t for t in red if t.fired_at is None]
        assert len(healed) == 1 and healed[0].due_at > dt.datetime.now(dt.UTC)


async def test_transition_hook_maps_actions_to_timers(makers: list[async_sessionmaker[AsyncSession]]) -> None:
    now = dt.datetime.now(dt.UTC)
    async with makers[0]() as session, session.begin():
        (case,) = await add_cases(
            session,
            [
                new_case(
                    state="dispatched",
                    received_at=now,
                    deadline_at=now + dt.timedelta(days=7),
                    sign_deadline_at=now + dt.timedelta(hours=3),
                )
            ],
        )
        await on_case_transition(session, case, "dispatched", now=now)
        kinds = sorted(t.kind for t in await timers_for(session, case.id))
        assert kinds == ["publicize", "red", "sign_due", "yellow"]
        sign = next(t for t in await timers_for(session, case.id) if t.kind == "sign_due")
        assert sign.due_at == case.sign_deadline_at
        case.state = "signed"
        await on_case_transition(session, case, "sign", now=now)
        assert sorted(t.kind for t in await timers_for(session, case.id)) == ["publicize", "red", "yellow"]
        case.state = "replied"
        await on_case_transition(session, case, "replied", now=now)
        assert [t.kind for t in await timers_for(session, case.id)] == ["survey_due"]
        case.state = "closed"
        await on_case_transition(session, case, "closed", now=now)
        assert await timers_for(session, case.id) == []
    async with makers[0]() as session:
        assert (await session.get(Case, case.id)) is not None
