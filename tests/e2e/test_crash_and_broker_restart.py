"""Nothing lost, nothing doubled: SIGKILL services and restart the broker while complaints flow."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from shared.db import sync_url
from tests.support import Infra, Stack, wait_until

N = 500


async def post_with_retries(client: httpx.AsyncClient, url: str, body: dict[str, str]) -> str:
    """A hotline client: retries until the ticket is acknowledged (same call id → same complaint)."""
    last: object = None
    for _ in range(300):
        try:
            r = await client.post(url, json=body)
            if r.status_code in (200, 201):
                return str(r.json()["id"])
            last = (r.status_code, r.text[:300])
        except httpx.HTTPError as exc:
            last = repr(exc)
        await asyncio.sleep(0.2)
    raise AssertionError(f"complaint {body['call_id']} never acknowledged; last answer: {last}")


async def file_many(stack: Stack, tag: str, count: int, on_progress=None) -> list[str]:
    url = f"{stack.url('intake')}/api/v1/complaints"
    sem = asyncio.Semaphore(16)
    done = 0

    async def one(i: int, client: httpx.AsyncClient) -> str:
        nonlocal done
        body = {
            "call_id": f"{tag}-{i}",
            "caller_phone": "13900000000",
            "text": f"第{i}号测试诉求：路灯不亮",
            "kind": "投诉",
            "matter_code": "SZ003",
        }
        async with sem:
            complaint_id = await post_with_retries(client, url, body)
        done += 1
        if on_progress is not None:
            await on_progress(done)
        return complaint_id

    async with httpx.AsyncClient(timeout=10, headers=stack.operator_headers) as client:
        return await asyncio.gather(*(one(i, client) for i in range(count)))


async def count_cases(infra: Infra, complaint_ids: list[str]) -> tuple[int, int]:
    conn = await asyncpg.connect(sync_url(infra.database_url))
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT complaint_id) AS d FROM dispatch.cases "
            "WHERE complaint_id = ANY($1::text[])",
            complaint_ids,
        )
        return int(row["n"]), int(row["d"])
    finally:
        await conn.close()


async def count_complaints(infra: Infra, tag: str) -> int:
    conn = await asyncpg.connect(sync_url(infra.database_url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM intake.complaints WHERE channel_key LIKE $1", f"{tag}-%"))
    finally:
        await conn.close()


def wait_for_cases(infra: Infra, ids: list[str], timeout_s: float = 120) -> None:
    def settled() -> bool:
        n, distinct = asyncio.run(count_cases(infra, ids))
        assert n == distinct, f"duplicated cases: {n} rows for {distinct} complaints"
        return n == len(ids)

    wait_until(settled, timeout_s=timeout_s, interval_s=0.5, message=f"{len(ids)} cases")


def test_sigkill_dispatch_while_500_complaints_flow(stack: Stack, infra: Infra) -> None:
    tag = f"kill-dispatch-{uuid.uuid4().hex[:8]}"
    dispatch = stack.services["dispatch"]
    killed = asyncio.Event()

    async def scenario() -> list[str]:
        async def progress(done: int) -> None:
            if done == N // 3 and not killed.is_set():
                killed.set()
                dispatch.kill()  # SIGKILL mid-stream: batches in flight are never committed

        ids = await file_many(stack, tag, N, progress)
        return ids

    ids = asyncio.run(scenario())
    assert killed.is_set()
    dispatch.start()
    assert len(set(ids)) == N
    wait_for_cases(infra, ids)
    n, distinct = asyncio.run(count_cases(infra, ids))
    assert (n, distinct) == (N, N), "0 lost, 0 duplicated"


def test_sigkill_intake_mid_stream_loses_no_acknowledged_complaint(stack: Stack, infra: Infra) -> None:
    tag = f"kill-intake-{uuid.uuid4().hex[:8]}"
    intake = stack.services["intake"]

    async def scenario() -> list[str]:
        async def progress(done: int) -> None:
            if done == 100:
                intake.kill()
                await asyncio.sleep(0.5)
                # Popen from this (main) thread: PR_SET_PDEATHSIG follows the creating thread.
                intake.start(wait=False)
                await asyncio.to_thread(intake.wait_ready)

        return await file_many(stack, tag, 300, progress)

    ids = asyncio.run(scenario())
    assert len(set(ids)) == 300
    assert asyncio.run(count_complaints(infra, tag)) == 300
    wait_for_cases(infra, ids)


def test_broker_restart_mid_stream_republishes_from_the_outbox(stack: Stack, infra: Infra) -> None:
    if infra.broker is None:
        pytest.skip("needs the embedded broker (an external Kafka is not restarted by tests)")
    tag = f"broker-restart-{uuid.uuid4().hex[:8]}"
    first = asyncio.run(file_many(stack, tag + "-a", 200))
    infra.restart_broker()  # the embedded broker forgets every topic and offset
    second = asyncio.run(file_many(stack, tag + "-b", 200))
    ids = first + second
    wait_for_cases(infra, ids, timeout_s=180)
    n, distinct = asyncio.run(count_cases(infra, ids))
    assert (n, distinct) == (400, 400)

    def receipts_for_all() -> bool:
        async def count() -> int:
            conn = await asyncpg.connect(sync_url(infra.database_url))
            try:
                return int(
                    await conn.fetchval(
                        "SELECT count(*) FROM notify.messages m JOIN dispatch.cases c ON c.id = m.case_id "
                        "WHERE c.complaint_id = ANY($1::text[]) AND m.template = 'receipt'",
                        ids,
                    )
                )
            finally:
                await conn.close()

        return asyncio.run(count()) == 400

    wait_until(receipts_for_all, timeout_s=120, interval_s=0.5, message="one receipt per case after the restart")
