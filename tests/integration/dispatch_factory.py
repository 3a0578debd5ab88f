"""Test helpers: dispatch cases written straight into the dispatch schema (no HTTP, no broker)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.dispatch.case.models import Case


def new_case(**overrides: Any) -> Case:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {
        "id": str(ULID()),
        "tracking_code": f"T{uuid.uuid4().hex[:12].upper()}",
        "complaint_id": str(ULID()),
        "state": "signed",
        "channel": "hotline",
        "kind": "投诉",
        "text": "建设路12号门口井盖坏了，晚上很危险",
        "lead": "ZJJ",
        "category": "SZ",
        "street_code": "S01",
        "grid_code": "G0101",
        "co_handlers": [],
        "reporter": {"phone": "13800138000"},
        "received_at": now - dt.timedelta(days=20),
        "deadline_at": now - dt.timedelta(days=1),
        "deadline_provisional": False,
        "dispatched_at": now - dt.timedelta(days=20),
    }
    values.update(overrides)
    return Case(**values)


async def add_cases(session: AsyncSession, cases: list[Case]) -> list[Case]:
    session.add_all(cases)
    await session.flush()
    return cases
