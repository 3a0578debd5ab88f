"""Grid patrol API (``/api/v1/grid``) for grid workers' PADs: 入格事项 with photos, GPS, solved on the spot.

Authenticated by ``X-Worker-Token`` (see :mod:`.auth`). A point outside the worker's own grid is
accepted and flagged ``outside_own_grid`` (workers help neighbours; the center sees the flag).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError

from services.intake.blobs.routes import blob_store
from services.intake.channels.app import service
from services.intake.channels.app.common import enrich, idempotency_key, locate, place_ref, read_body, validate
from services.intake.channels.app.routes import UPLOAD_ERRORS, _form_fields
from services.intake.channels.app.schemas import ChannelComplaintOut, GridReportIn
from services.intake.channels.grid.auth import GridWorker
from services.intake.complaint import service as complaints
from services.intake.complaint.http import commit_filed
from services.intake.complaint.schemas import ComplaintDraft
from shared.app import RuntimeDep, SessionDep
from shared.catalog import default_catalog
from shared.events.complaints import GeoPoint, Reporter

router = APIRouter(prefix="/api/v1/grid", tags=["grid"])
WORKER_ONLY: dict[int | str, dict[str, Any]] = {401: {"description": "missing or invalid X-Worker-Token"}}

GRID_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/GridReportIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["matter_code"],
                    "properties": {
                        "matter_code": {"type": "string"},
                        "text": {"type": "string"},
                        "lon": {"type": "number"},
                        "lat": {"type": "number"},
                        "solved_on_spot": {"type": "boolean"},
                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        }
    }
}


@router.get("/me", responses=WORKER_ONLY)
async def whoami(worker: GridWorker) -> dict[str, Any]:
    """The authenticated worker and their grids."""
    worker_id, grids = worker
    return {
        "worker_id": worker_id,
        "grids": [
            {
                "grid_code": g.grid_code,
                "grid_name": g.grid_name,
                "community_name": g.community_name,
                "street_name": g.street_name,
            }
            for g in grids
        ],
    }


@router.post(
    "/reports",
    response_model=ChannelComplaintOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=GRID_DOC,
    responses={**WORKER_ONLY, **UPLOAD_ERRORS},
)
async def file_grid_report(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    worker: GridWorker,
) -> ChannelComplaintOut:
    """A grid worker reports a catalog matter (``matter_code``), optionally solved on the spot (就地解决: with at
    least one photo; dispatch closes it at once, never dispatched). The worker's token is checked (401) before
    the body is read."""
    settings = runtime.settings
    worker_id, own_grids = worker
    fields, files = await read_body(request, max_files=settings.upload_max_photos)
    body = validate(GridReportIn, _form_fields(fields))
    key = idempotency_key(request, body.client_request_id)
    matter = default_catalog().get_matter(body.matter_code.strip().upper())
    if matter is None:
        raise RequestValidationError(
            [
                {
                    "loc": ("matter_code",),
                    "msg": f"unknown matter code {body.matter_code!r} (see the matter catalog)",
                    "type": "value_error",
                }
            ]
        )
    if matter.is_emergency:
        raise RequestValidationError(
            [
                {
                    "loc": ("matter_code",),
                    "msg": "emergencies are not reported here: call 110/119/120/122 now",
                    "type": "value_error",
                }
            ]
        )
    photos = await service.read_photos(
        files,
        max_files=settings.upload_max_photos,
        max_bytes=settings.upload_max_photo_bytes,
        max_pixels=settings.upload_max_photo_pixels,
    )
    channel_key = f"{worker_id}:{key}"[:128]
    existing = await complaints.get_by_channel_key(session, "grid", channel_key)
    if existing is None and body.solved_on_spot and not photos:  # 就地解决 closes the case: the photo is the proof
        raise RequestValidationError(
            [{"loc": ("photos",), "msg": "现场解决须上传至少一张现场照片", "type": "value_error"}]
        )
    if existing is None:
        point = (
            GeoPoint(lon=body.lon, lat=body.lat, source="gps")
            if body.lon is not None and body.lat is not None
            else None
        )
        grid = locate(point)
        own_codes = {g.grid_code for g in own_grids}
        outside = point is not None and (grid is None or grid.grid_code not in own_codes)
        if point is None and len(own_grids) == 1:
            grid = own_grids[0]  # no GPS fix: the worker's own grid is the best guess, said so by the source
        draft = ComplaintDraft(
            channel="grid",
            channel_key=channel_key,
            text=body.text or f"网格员巡查上报：{matter.name}",
            kind=body.kind,
            address=body.address,
            location=point,
            place=place_ref(grid),
            reporter=Reporter(user_id=f"grid:{worker_id}"),
            attachments=await service.store_photos(blob_store(request), photos),
            matter_code=matter.code,
            category=matter.category,
            solved_on_spot=body.solved_on_spot,
            outside_own_grid=outside,
            operator_id=worker_id,
        )
        draft = await enrich(runtime, draft)
        # the worker's matter and flags are facts, not suggestions: enrichment never overrides them
        draft = draft.model_copy(
            update={
                "matter_code": matter.code,
                "category": matter.category,
                "solved_on_spot": body.solved_on_spot,
                "outside_own_grid": outside,
            }
        )
        complaint, created = await complaints.create_complaint(session, draft)
    else:
        complaint, created = existing, False
    if created:
        await service.record_submission(
            session, complaint.id, channel="grid", submission_type="patrol", worker_id=worker_id
        )
    await commit_filed(session, runtime, response, created=created)
    return service.complaint_out(complaint, await service.submission_of(session, complaint.id), created=created)
