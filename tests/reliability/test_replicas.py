"""Two replicas of every service against one database and one broker: nothing lost or doubled while one
dispatch replica is killed (-9) and restarted mid-run, and SLA timers claimed by both scanners fire exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from linkage.chaos import HarnessTarget, Scale, kill_service_under_load
from linkage.harness import start_replicated_stack, wait_until
from shared.db import sync_url
from tests.reliability.conftest import assert_row, log_tails
from tests.support import Infra, Stack


@pytest.fixture
def replicated_stack(fault_infra: Infra) -> Iterator[Stack]:
    stack = start_replicated_stack(fault_infra, replicas=2)
    try:
        yield stack
    finally:
        stack.stop()


async def _fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(sync_url(database_url), timeout=5)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def test_two_replicas_one_dispatch_killed_nothing_lost_or_doubled_timers_fire_once(
    fault_infra: Infra, replicated_stack: Stack
) -> None:
    assert {"intake-2", "dispatch-2", "notify-2", "analytics-2"} <= set(replicated_stack.services)
    target = HarnessTarget(fault_infra, replicated_stack)

    # complaints flow through both replicas of every consumer while dispatch replica 1 dies and restarts
    row = kill_service_under_load("dispatch")(target, Scale(complaints=150, concurrency=8, settle_s=90))
    assert_row(row, replicated_stack)
    assert row.accepted >= 50

    # every open sign-for timer falls due now; both scanners race for them; replica 2 is killed mid-firing
    db = fault_infra.database_url
    due = asyncio.run(
        _fetch(
            db,
            "UPDATE dispatch.case_timers t SET due_at = now() FROM dispatch.cases c "
            "WHERE c.id = t.case_id AND c.state = 'dispatched' AND t.kind = 'sign_due' AND t.fired_at IS NULL "
            "RETURNING t.id, t.case_id",
        )
    )
    assert len(due) >= 50, f"only {len(due)} sign-for timers to fire"
    timer_ids = [r["id"] for r in due]
    case_ids = sorted({r["case_id"] for r in due})
    replicated_stack.services["dispatch-2"].kill_and_restart(wait=True)

    def unfired() -> bool:
        left = asyncio.run(
            _fetch(
                db, "SELECT id FROM dispatch.case_timers WHERE id = ANY($1::bigint[]) AND fired_at IS NULL", timer_ids
            )
        )
        return not left

    wait_until(unfired, timeout_s=60, interval_s=0.5, message="every due sign-for timer fired")
    outcomes = asyncio.run(
        _fetch(
            db,
            "SELECT outcome, count(*) AS n FROM dispatch.case_timers WHERE id = ANY($1::bigint[]) GROUP BY outcome",
            timer_ids,
        )
    )
    assert {r["outcome"]: r["n"] for r in outcomes} == {"fired": len(timer_ids)}, log_tails(replicated_stack)
    warned = asyncio.run(
        _fetch(
            db,
            "SELECT case_id, count(*) AS n FROM dispatch.case_history WHERE case_id = ANY($1::text[]) "
            "AND details->>'timer' = 'sign_due' GROUP BY case_id",
            case_ids,
        )
    )
    per_case = {r["case_id"]: r["n"] for r in warned}
    assert sorted(per_case) == case_ids, f"cases without their timer's transition: {set(case_ids) - set(per_case)}"
    assert all(n == 1 for n in per_case.values()), {c: n for c, n in per_case.items() if n != 1}
