"""Grid worker API for 未诉先办 patrol tasks (``/api/v1/grid/tasks``), authenticated like grid reports
(``X-Worker-Token``): a worker sees and completes the tasks of their own grids only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from services.intake.blobs.routes import blob_store
from services.intake.channels.app import service as uploads
from services.intake.channels.app.common import read_body, validate
from services.intake.channels.app.routes import UPLOAD_ERRORS, _form_fields
from services.intake.channels.grid.auth import GridWorker
from services.intake.patrol import service
from services.intake.patrol.schemas import PatrolResultIn, PatrolTaskList, PatrolTaskOut
from shared.app import RuntimeDep, SessionDep
from shared.errors import Forbidden, NotFound

router = APIRouter(prefix="/api/v1/grid/tasks", tags=["grid"])
WORKER_ONLY: dict[int | str, dict[str, Any]] = {401: {"description": "missing or invalid X-Worker-Token"}}
RESULT_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PatrolResultIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["result"],
                    "properties": {
                        "result": {"type": "string", "enum": ["patrolled", "handled", "nothing_found"]},
                        "note": {"type": "string"},
                        "client_request_id": {"type": "string"},
                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        }
    }
}


@router.get("", response_model=PatrolTaskList, responses=WORKER_ONLY)
async def my_tasks(
    session: SessionDep,
    worker: GridWorker,
    status: Annotated[Literal["open", "done", "all"], Query(description="open (default), done or all")] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PatrolTaskList:
    """The patrol tasks of the worker's own grids, newest first."""
    worker_id, grids = worker
    tasks = await service.list_for_grids(session, [g.grid_code for g in grids], status=status, limit=limit)
    return PatrolTaskList(worker_id=worker_id, items=[service.task_out(t) for t in tasks])


async def _own_task(session: SessionDep, worker: Any, task_id: str, *, for_update: bool = False) -> Any:
    _, grids = worker
    task = await service.get(session, task_id[:40], for_update=for_update)
    if task is None:
        raise NotFound("没有这个巡查任务", task_id=task_id[:40])
    if task.grid_code not in {g.grid_code for g in grids}:
        raise Forbidden("这不是你负责网格的巡查任务", task_id=task.id)
    return task


@router.get("/{task_id}", response_model=PatrolTaskOut, responses={**WORKER_ONLY, 403: {}, 404: {}})
async def my_task(session: SessionDep, worker: GridWorker, task_id: str) -> PatrolTaskOut:
    return service.task_out(await _own_task(session, worker, task_id))


@router.post(
    "/{task_id}/result",
    response_model=PatrolTaskOut,
    openapi_extra=RESULT_DOC,
    responses={**WORKER_ONLY, **UPLOAD_ERRORS, 403: {}, 404: {}, 409: {"description": "already done otherwise"}},
)
async def record_result(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    worker: GridWorker,
    task_id: str,
) -> PatrolTaskOut:
    """已巡查 / 已处置 / 未发现问题, with a note and optional photos (multipart ``photos``). The token is checked (401)
    before the body is read. The same result sent again is answered as before (``Idempotent-Replay: true``)."""
    settings = runtime.settings
    worker_id, _ = worker
    fields, files = await read_body(request, max_files=settings.upload_max_photos)
    body = validate(PatrolResultIn, _form_fields(fields))
    task = await _own_task(session, worker, task_id, for_update=True)
    photos = await uploads.read_photos(
        files,
        max_files=settings.upload_max_photos,
        max_bytes=settings.upload_max_photo_bytes,
        max_pixels=settings.upload_max_photo_pixels,
    )
    stored = await uploads.store_photos(blob_store(request), photos) if photos and task.status != "done" else []
    changed = await service.record_result(
        session, task, worker_id=worker_id, result=body.result, note=body.note, photos=stored
    )
    await session.commit()
    if changed:
        runtime.relay.wake()
    else:
        response.headers["Idempotent-Replay"] = "true"
    return service.task_out(task)
