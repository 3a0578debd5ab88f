"""Case states read from dispatch's HTTP API (dispatch owns cases; intake never copies them).

Why not a local projection of ``linkage.dispatch.cases.v1``: the reads are operator- and
Open311-facing and low volume, dispatch's ``GET /api/v1/cases?complaint_id=a,b,…`` answers them in one request,
and a projection would add a consumer, a table and a replay story to intake for a status word.
When dispatch is slow or down the caller gets ``"unknown"`` instead of an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx

from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

UNKNOWN = "unknown"
CLOSED_STATES = frozenset({"closed", "transferred"})
STATE_NAMES = {
    "accepted": "已受理",
    "triage": "待分拨",
    "transferred": "已转警",
    "answered": "已答复",
    "dispatched": "已派单",
    "signed": "办理中",
    "returned": "退单审核中",
    "suspended": "已挂起",
    "replied": "已办结",
    "verified": "已核查",
    "surveyed": "已回访",
    "merged": "已并单",
    "closed": "已结案",
    UNKNOWN: "状态未知",
    "pending": "待生成工单",
}

CHUNK = 100  # complaint ids per request (dispatch takes up to 200)


async def case_states(settings: Settings, complaint_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{complaint_id: {"state", "state_name", "case_id", "deadline_at", "updated"}}`` for every id asked.

    ``state`` is ``"pending"`` when dispatch answered but has no case yet, ``"unknown"`` when dispatch could
    not be asked in time.
    """
    ids = list(dict.fromkeys(complaint_ids))
    out: dict[str, dict[str, Any]] = {}
    if not ids:
        return out
    timeout = httpx.Timeout(settings.dispatch_timeout_s)
    base = settings.dispatch_url.rstrip("/")

    async def chunk(client: httpx.AsyncClient, cids: list[str]) -> None:
        try:
            r = await client.get(f"{base}/api/v1/cases", params={"complaint_id": ",".join(cids), "limit": CHUNK})
            r.raise_for_status()
            items = r.json().get("items") or []
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("dispatch unreachable for case states", count=len(cids), error=repr(exc))
            return  # every id of the chunk stays "unknown"
        found = {case.get("complaint_id"): case for case in items}
        for cid in cids:
            case = found.get(cid)
            out[cid] = (
                _entry("pending")
                if case is None
                else _entry(
                    str(case.get("state") or UNKNOWN),
                    case_id=case.get("id"),
                    deadline_at=case.get("deadline_at"),
                    lead=case.get("lead"),
                )
            )

    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            await asyncio.wait_for(
                asyncio.gather(*(chunk(client, ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK))),
                timeout=settings.dispatch_timeout_s * 2,
            )
        except TimeoutError:
            log.warning("dispatch too slow for case states", count=len(ids))
    for cid in ids:
        out.setdefault(cid, _entry(UNKNOWN))
    return out


def _entry(state: str, **extra: Any) -> dict[str, Any]:
    return {"state": state, "state_name": STATE_NAMES.get(state, state), **extra}


def open311_status(state: str) -> str:
    """Open311 knows two statuses: ``closed`` for finished (结案 / 转警) cases, ``open`` for everything else."""
    return "closed" if state in CLOSED_STATES else "open"
