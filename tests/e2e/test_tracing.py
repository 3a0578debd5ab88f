"""One trace from the hotline request through Kafka into dispatch's case events."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import asyncpg
import httpx

from shared.db import sync_url
from tests.support import Infra, Stack, wait_until


async def _traceparents(infra: Infra, schema: str, key: str) -> list[str]:
    conn = await asyncpg.connect(sync_url(infra.database_url))
    try:
        rows = await conn.fetch(f"SELECT headers FROM {schema}.outbox WHERE key = $1 ORDER BY seq", key)
    finally:
        await conn.close()
    import json

    found = []
    for row in rows:
        headers = json.loads(row["headers"]) if isinstance(row["headers"], str) else row["headers"]
        found += [v for k, v in headers if k == "traceparent"]
    return found


def test_a_complaints_trace_reaches_its_case_events(stack: Stack, infra: Infra) -> None:
    trace_id = secrets.token_hex(16)
    incoming = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    headers = {"traceparent": incoming, **stack.operator_headers}
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", headers=headers, timeout=10, json={
        "call_id": f"trace-{uuid.uuid4()}", "caller_phone": "13900001111", "kind": "投诉",
        "text": f"万年场路{secrets.randbelow(900) + 100}号附近下水道堵塞返臭", "matter_code": "SZ005",
    })
    assert r.status_code == 201, r.text
    assert r.headers["traceparent"].split("-")[1] == trace_id  # the server span continues the caller's trace
    complaint_id = r.json()["id"]
    published = asyncio.run(_traceparents(infra, "intake", complaint_id))
    assert published and all(tp.split("-")[1] == trace_id for tp in published)

    def case_id() -> str | None:
        items = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": complaint_id}).json()
        return items["items"][0]["id"] if items["items"] else None

    cid = wait_until(case_id, message="case opened")
    followed = asyncio.run(_traceparents(infra, "dispatch", cid))
    assert len(followed) >= 2  # created + routed
    assert all(tp.split("-")[1] == trace_id for tp in followed), followed
