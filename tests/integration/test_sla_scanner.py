"""The SLA scanner's concurrency model: several scanner loops per dispatch process (``run_scanner`` with
``sla_scan_workers``) in two "replicas" fire a mixed batch — escalations on the batch path, healing and
未评价 on the isolated path, two timers of one case in one batch — exactly once; a batch that fails falls
back to one savepoint per timer, so only the failing timer is retried."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.case import flows
from services.dispatch.case.models import Case
from services.dispatch.sla.service import fire_due_timers, run_scanner, schedule_case_timers
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings
from tests.integration.dispatch_factory import add_cases, new_case

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def makers(settings: Settings) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Two independent engines = two dispatch replicas' connection pools."""
    engines = [make_engine(settings, "dispatch", pool_size=4) for _ in range(2)]
    try:
        yield [make_sessionmaker(e) for e in engines]
    finally:
        for e in engines:
            await e.dispose()


async def _mixed_cases(maker: async_sessionmaker[AsyncSession], n: int) -> dict[str, list[str]]:
    """``n`` cases of each sort, each with its due timer(s); returns case ids by sort."""
    now = dt.datetime.now(dt.UTC)
    past = now - dt.timedelta(minutes=5)
    sorts: dict[str, list[Case]] = {
        # dispatched, not signed in time → warned (batch path)
        "sign": [
            new_case(state="dispatched", received_at=now - dt.timedelta(days=1), deadline_at=now + dt.timedelta(days=7))
            for _ in range(n)
        ],
        # signed and overdue → supervised (batch path)
        "red": [new_case() for _ in range(n)],
        # dispatched, overdue and not signed: sign_due and red in the same batch → warned and supervised
        "both": [new_case(state="dispatched") for _ in range(n)],
        # the deadline moved without a reschedule → skipped and healed (isolated path inside the batch)
        "moved": [new_case() for _ in range(n)],
        # 吹哨 with one department that has not reported → urged (batch path)
        "whistle": [new_case(whistle={"departments": {"GAJ": None, "ZJJ": past.isoformat()}}) for _ in range(n)],
        # replied, no survey answer → 未评价 and closed (isolated path inside the batch)
        "survey": [new_case(state="replied") for _ in range(n)],
    }
    async with maker() as session, session.begin():
        await add_cases(session, [c for cases in sorts.values() for c in cases])
        ids = {sort: [c.id for c in cases] for sort, cases in sorts.items()}
        for c in [*sorts["red"], *sorts["both"], *sorts["moved"]]:
            await schedule_case_timers(session, c, sign=False)
        clock = ids["red"] + ids["both"] + ids["moved"]
        await session.execute(
            text("DELETE FROM case_timers WHERE case_id = ANY(:ids) AND kind <> 'red'"), {"ids": clock}
        )
        rows = [(c, "sign_due") for c in ids["sign"] + ids["both"]]
        rows += [(c, "whistle_due") for c in ids["whistle"]] + [(c, "survey_due") for c in ids["survey"]]
        for case_id, kind in rows:
            await session.execute(
                text("INSERT INTO case_timers (case_id, kind, due_at, attempts) VALUES (:c, :k, :due, 0)"),
                {"c": case_id, "k": kind, "due": past},
            )
        for case in sorts["moved"]:  # an extension pushed the deadline; the red timer is stale
            case.deadline_at = now + dt.timedelta(days=10)
    return ids


async def _rows(maker: async_sessionmaker[AsyncSession], query: str, ids: list[str]) -> list[Any]:
    async with maker() as session:
        return list(await session.execute(text(query), {"ids": ids}))


async def _unfired_due(maker: async_sessionmaker[AsyncSession], ids: list[str]) -> int:
    (row,) = await _rows(
        maker,
        "SELECT count(*) FROM case_timers WHERE case_id = ANY(:ids) AND fired_at IS NULL AND due_at <= now()",
        ids,
    )
    return int(row[0])


def _runtime(maker: async_sessionmaker[AsyncSession], *, workers: int, batch: int) -> Any:
    settings = SimpleNamespace(sla_scan_interval_s=0.2, sla_scan_batch_size=batch, sla_scan_workers=workers)
    return SimpleNamespace(settings=settings, sessionmaker=maker, name="dispatch-test")


async def test_scanner_workers_in_two_replicas_fire_a_mixed_batch_exactly_once(
    makers: list[async_sessionmaker[AsyncSession]],
) -> None:
    ids = await _mixed_cases(makers[0], 30)
    every = [c for cases in ids.values() for c in cases]
    scanners = [asyncio.create_task(run_scanner(_runtime(m, workers=3, batch=17))) for m in makers]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not await _unfired_due(makers[0], every):
                break
            await asyncio.sleep(0.1)
    finally:
        for task in scanners:
            task.cancel()
        await asyncio.gather(*scanners, return_exceptions=True)
    assert await _unfired_due(makers[0], every) == 0

    timers = await _rows(
        makers[0],
        "SELECT case_id, kind, outcome FROM case_timers WHERE case_id = ANY(:ids) AND fired_at IS NOT NULL",
        every,
    )
    outcomes = {(r.case_id, r.kind): r.outcome for r in timers}
    assert len(timers) == len(outcomes)  # one fired row per timer
    history = await _rows(
        makers[0],
        "SELECT case_id, action FROM case_history WHERE case_id = ANY(:ids) AND actor = 'system:sla' ORDER BY seq",
        every,
    )
    actions: dict[str, list[str]] = {}
    for r in history:
        actions.setdefault(r.case_id, []).append(r.action)
    events = await _rows(makers[0], "SELECT key, event_type FROM outbox WHERE key = ANY(:ids)", every)
    sent: dict[str, list[str]] = {}
    for r in events:
        sent.setdefault(r.key, []).append(r.event_type.split(".")[-2])

    for c in ids["sign"]:
        assert outcomes[(c, "sign_due")] == "fired" and actions[c] == ["warned"] and sent[c] == ["warned"]
    for c in ids["red"]:
        assert outcomes[(c, "red")] == "fired" and actions[c] == ["supervised"] and sent[c] == ["supervised"]
    for c in ids["both"]:
        assert (outcomes[(c, "sign_due")], outcomes[(c, "red")]) == ("fired", "fired")
        assert sorted(actions[c]) == ["supervised", "warned"] and sorted(sent[c]) == ["supervised", "warned"]
    for c in ids["whistle"]:
        assert outcomes[(c, "whistle_due")] == "fired" and actions[c] == ["urged"] and sent[c] == ["urged"]
    for c in ids["moved"]:
        assert outcomes[(c, "red")] == "skipped" and c not in actions and c not in sent
    for c in ids["survey"]:
        assert outcomes[(c, "survey_due")] == "fired" and actions[c] == ["surveyed", "closed"]
        assert sent[c] == ["surveyed", "closed"]

    # the stale red timers were healed: a new one at the moved deadline, not fired
    healed = await _rows(
        makers[0],
        "SELECT count(*) FROM case_timers WHERE case_id = ANY(:ids) AND kind = 'red' AND fired_at IS NULL "
        "AND due_at > now() + interval '9 days'",
        ids["moved"],
    )
    assert healed[0][0] == len(ids["moved"])
    # each escalated case's version moved once per escalation (the batch path writes it like the ORM does)
    versions = await _rows(makers[0], "SELECT id, version, history_seq FROM cases WHERE id = ANY(:ids)", ids["both"])
    assert {(r.version, r.history_seq) for r in versions} == {(3, 2)}


async def test_a_failing_batch_falls_back_to_one_savepoint_per_timer(
    makers: list[async_sessionmaker[AsyncSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = (await _mixed_cases(makers[0], 5))["red"]
    poisoned = ids[0]
    real = flows.transition

    async def flaky(session: AsyncSession, case: Case, action: str, **kwargs: Any) -> Any:
        if case.id == poisoned:
            raise RuntimeError("boom")
        return await real(session, case, action, **kwargs)

    monkeypatch.setattr(flows, "transition", flaky)
    for _ in range(10):
        await fire_due_timers(makers[0], limit=500)
        if await _unfired_due(makers[0], ids) == 0:
            break
    rows = await _rows(
        makers[0],
        "SELECT case_id, outcome, attempts, last_error, fired_at FROM case_timers WHERE case_id = ANY(:ids)",
        ids,
    )
    by_case = {r.case_id: r for r in rows}
    assert by_case[poisoned].fired_at is None and by_case[poisoned].attempts == 1
    assert "boom" in by_case[poisoned].last_error
    assert {by_case[c].outcome for c in ids[1:]} == {"fired"}
    history = await _rows(
        makers[0], "SELECT case_id FROM case_history WHERE case_id = ANY(:ids) AND actor = 'system:sla'", ids
    )
    assert sorted(r.case_id for r in history) == sorted(ids[1:])
