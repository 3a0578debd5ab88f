"""Patrol tasks: opened once per hot spot (idempotent on the hot spot id), listed for a grid's workers, done once
with a result. Each change stages its event on ``linkage.intake.patrols.v1`` in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.intake.patrol.models import PatrolTask
from services.intake.patrol.schemas import PatrolPhotoOut, PatrolTaskOut
from services.intake.places import default_places
from shared import topics
from shared.calendar import default_calendar
from shared.catalog import CATEGORY_NAMES
from shared.errors import Conflict
from shared.events.complaints import Attachment
from shared.events.patrol import PATROL_RESULT_NAMES, HotspotDetectedV1, PatrolTaskDoneV1, PatrolTaskOpenedV1
from shared.outbox import add_event

DUE_WORKDAYS = 2
"""A patrol is due by 17:30 of the second working day after the task is opened."""
STATUS_NAMES = {"open": "待巡查", "done": "已完成"}


async def open_for_hotspot(session: AsyncSession, hotspot: HotspotDetectedV1, *, now: datetime | None = None) -> bool:
    """Open the hot spot's patrol task (and stage ``PatrolTaskOpenedV1``); False if it already has one."""
    now = now or datetime.now(UTC)
    task_id = str(ULID())
    due = default_calendar().working_deadline(now, DUE_WORKDAYS)
    stmt = (
        insert(PatrolTask)
        .values(
            id=task_id,
            hotspot_id=hotspot.hotspot_id,
            grid_code=hotspot.grid_code,
            street_code=hotspot.street_code,
            category=hotspot.category,
            window_start=hotspot.window_start,
            window_end=hotspot.window_end,
            recent_count=hotspot.recent_count,
            baseline_daily=hotspot.baseline_daily,
            baseline_days=hotspot.baseline_days,
            status="open",
            opened_at=now,
            due_at=due,
            photos=[],
        )
        .on_conflict_do_nothing(index_elements=["hotspot_id"])
        .returning(PatrolTask.id)
    )
    if (await session.execute(stmt)).scalar_one_or_none() is None:
        return False
    event = PatrolTaskOpenedV1(
        task_id=task_id,
        hotspot_id=hotspot.hotspot_id,
        grid_code=hotspot.grid_code,
        street_code=hotspot.street_code,
        category=hotspot.category,
        opened_at=now,
        due_at=due,
    )
    add_event(session, topics.PATROLS, event, key=hotspot.grid_code, source="intake", subject=task_id)
    return True


async def list_for_grids(
    session: AsyncSession, grid_codes: Sequence[str], *, status: str = "open", limit: int = 100
) -> list[PatrolTask]:
    stmt = select(PatrolTask).where(PatrolTask.grid_code.in_(list(grid_codes)))
    if status != "all":
        stmt = stmt.where(PatrolTask.status == status)
    stmt = stmt.order_by(PatrolTask.opened_at.desc(), PatrolTask.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, task_id: str, *, for_update: bool = False) -> PatrolTask | None:
    stmt = select(PatrolTask).where(PatrolTask.id == task_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def record_result(
    session: AsyncSession,
    task: PatrolTask,
    *,
    worker_id: str,
    result: str,
    note: str | None,
    photos: Sequence[Attachment] = (),
    now: datetime | None = None,
) -> bool:
    """Record the patrol's result once (and stage ``PatrolTaskDoneV1``). The same result sent again by the same
    worker is a replay (False, nothing changes); a different one on a done task is a 409."""
    if task.status == "done":
        if task.done_by == worker_id and task.result == result and (task.note or None) == (note or None):
            return False
        done = PATROL_RESULT_NAMES.get(task.result or "", task.result)
        raise Conflict(
            f"该巡查任务已于{_local(task.done_at)}记录结果「{done}」，不能重复提交",
            task_id=task.id,
        )
    now = now or datetime.now(UTC)
    task.status = "done"
    task.result = result
    task.note = note
    task.photos = [p.model_dump(mode="json") for p in photos]
    task.done_by = worker_id
    task.done_at = now
    event = PatrolTaskDoneV1(
        task_id=task.id,
        hotspot_id=task.hotspot_id,
        grid_code=task.grid_code,
        street_code=task.street_code,
        category=task.category,
        result=result,  # type: ignore[arg-type]  # validated by PatrolResultIn
        worker_id=worker_id,
        photos=len(photos),
        done_at=now,
    )
    add_event(session, topics.PATROLS, event, key=task.grid_code, source="intake", subject=task.id)
    await session.flush()
    return True


def _local(at: datetime | None) -> str:
    if at is None:
        return ""
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m月%d日%H:%M")


def reason(task: PatrolTask) -> str:
    """Why the task exists, for the worker (未诉先办)."""
    category = CATEGORY_NAMES.get(task.category, task.category)
    days = (task.window_end - task.window_start).days + 1
    before = (
        f"前{task.baseline_days}日几乎没有"
        if task.baseline_daily < 0.05
        else f"高于前{task.baseline_days}日日均{task.baseline_daily:.1f}件的水平"
    )
    return f"未诉先办：本网格近{days}日「{category}」类诉求{task.recent_count}件，{before}，请到现场巡查并记录结果"


def task_out(task: PatrolTask) -> PatrolTaskOut:
    grid = default_places().index.grid(task.grid_code)
    photos: list[dict[str, Any]] = task.photos or []
    return PatrolTaskOut(
        id=task.id,
        status="done" if task.status == "done" else "open",
        status_name=STATUS_NAMES.get(task.status, task.status),
        grid_code=task.grid_code,
        grid_name=grid.grid_name if grid else None,
        street_name=grid.street_name if grid else None,
        category=task.category,
        category_name=CATEGORY_NAMES.get(task.category, task.category),
        reason=reason(task),
        window_start=task.window_start,
        window_end=task.window_end,
        recent_count=task.recent_count,
        baseline_daily=task.baseline_daily,
        opened_at=task.opened_at,
        due_at=task.due_at,
        result=task.result,  # type: ignore[arg-type]
        result_name=PATROL_RESULT_NAMES.get(task.result) if task.result else None,
        note=task.note,
        photos=[PatrolPhotoOut(url=p["url"], content_type=p.get("content_type"), size=p.get("size")) for p in photos],
        done_by=task.done_by,
        done_at=task.done_at,
    )
