"""Citizen app API (``/api/v1/app``): complaints with photos and GPS, 随手拍, 我要代办, status by tracking code.

Bodies are JSON or ``multipart/form-data`` (fields + ``photos`` files). The client's request id
(``Idempotency-Key`` header or ``client_request_id`` field) makes retries safe: the same id returns the
first complaint with 200 and ``Idempotent-Replay: true``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from services.intake.blobs.routes import blob_store
from services.intake.channels.app import service
from services.intake.channels.app.common import enrich, idempotency_key, read_body, validate
from services.intake.channels.app.schemas import AppComplaintIn, ChannelComplaintOut, CitizenStatusOut
from services.intake.complaint import service as complaints
from services.intake.complaint.http import commit_filed
from services.intake.complaint.schemas import ComplaintDraft
from shared.access import public
from shared.app import RuntimeDep, SessionDep
from shared.errors import NotFound
from shared.events.complaints import GeoPoint, Reporter
from shared.ratelimit import rate_limit

router = APIRouter(prefix="/api/v1/app", tags=["app"])
citizen_lookup_limit = rate_limit("citizen-lookup", per_minute=30, burst=10)

PREFIX = {"snapshot": "【随手拍】", "errand": "【我要代办】"}
DEFAULT_TEXT = {"snapshot": "市民随手拍上报", "errand": "市民申请社区代办", "complaint": ""}

MULTIPART_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AppComplaintIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "type": {"type": "string", "enum": ["complaint", "snapshot", "errand"]},
                        "lon": {"type": "number"},
                        "lat": {"type": "number"},
                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        }
    }
}


UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "a body that cannot be read (bad JSON, an incomplete multipart form, a repeated field)"},
    413: {"description": "too many photos, or a photo or the body over its size limit"},
    415: {"description": "neither JSON nor a form, or a photo that is not a JPEG, PNG or WebP"},
    422: {"description": "invalid fields, or a photo that does not decode"},
}


def _form_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Form values are strings: empty ones mean "not given"."""
    return {k: v for k, v in fields.items() if not (isinstance(v, str) and v.strip() == "")}


@router.post(
    "/complaints",
    response_model=ChannelComplaintOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={**MULTIPART_DOC, **public("a citizen files a complaint; rate-limited")},
    responses=UPLOAD_ERRORS,
)
async def file_app_complaint(
    request: Request, session: SessionDep, runtime: RuntimeDep, response: Response
) -> ChannelComplaintOut:
    """File a complaint (type ``complaint``), a 随手拍 (``snapshot``, needs a photo) or a 我要代办 (``errand``)."""
    settings = runtime.settings
    fields, files = await read_body(request, max_files=settings.upload_max_photos)
    body = validate(AppComplaintIn, _form_fields(fields))
    key = idempotency_key(request, body.client_request_id)
    if body.type == "snapshot" and not files:
        raise RequestValidationError(
            [{"loc": ("photos",), "msg": "a 随手拍 (snapshot) needs at least one photo", "type": "missing"}]
        )
    text = body.text or DEFAULT_TEXT[body.type]
    if not text:
        raise RequestValidationError([{"loc": ("text",), "msg": "describe the problem", "type": "missing"}])
    photos = await service.read_photos(
        files,
        max_files=settings.upload_max_photos,
        max_bytes=settings.upload_max_photo_bytes,
        max_pixels=settings.upload_max_photo_pixels,
    )
    existing = await complaints.get_by_channel_key(session, "app", key)
    if existing is None:
        attachments = await service.store_photos(blob_store(request), photos)
        draft = ComplaintDraft(
            channel="app",
            channel_key=key,
            text=PREFIX.get(body.type, "") + text,
            kind="求助" if body.type == "errand" else body.kind,
            address=body.address,
            location=GeoPoint(lon=body.lon, lat=body.lat, source="gps")
            if body.lon is not None and body.lat is not None
            else None,
            reporter=Reporter(name=body.name, phone=body.phone, user_id=body.user_id, anonymous=body.anonymous),
            attachments=attachments,
        )
        draft = await enrich(runtime, draft)
        if body.type == "errand":
            draft = draft.model_copy(update={"kind": "求助"})
        complaint, created = await complaints.create_complaint(session, draft)
    else:
        complaint, created = existing, False
    if created:
        await service.record_submission(
            session, complaint.id, channel="app", submission_type=body.type, errand=body.type == "errand"
        )
    await commit_filed(session, runtime, response, created=created)
    out = service.complaint_out(complaint, await service.submission_of(session, complaint.id), created=created)
    return out.model_copy(update={"tracking_secret": complaints.issued_secret(complaint) if created else None})


@router.get(
    "/complaints/{tracking_code}",
    response_model=CitizenStatusOut,
    dependencies=[Depends(citizen_lookup_limit)],
    openapi_extra=public("credential in the query: tracking code + its secret or the phone's last four"),
    responses={
        404: {"description": "unknown code, or wrong secret / last four digits (the same answer)"},
        429: {"description": "too many lookups from this address (Retry-After)"},
    },
)
async def citizen_status(
    tracking_code: str,
    session: SessionDep,
    secret: Annotated[str | None, Query(max_length=64, description="查询密码 given at filing")] = None,
    phone_last4: Annotated[str | None, Query(max_length=4, description="last four digits of the phone")] = None,
    x_tracking_secret: Annotated[str | None, Header(max_length=64)] = None,
) -> CitizenStatusOut:
    """The citizen's own complaint: the tracking code plus its secret (``X-Tracking-Secret`` or ``secret``) or
    the phone's last four digits (``phone_last4``). Anything else is the same 404 as an unknown code.
    The case's progress is at dispatch ``/api/v1/track/{code}``."""
    complaint = await complaints.get_by_tracking_code(session, tracking_code.strip().upper()[:20])
    if complaint is None or not (
        complaints.check_citizen_secret(complaint, x_tracking_secret or secret)
        or complaints.check_phone_last4(complaint, phone_last4)
    ):
        raise NotFound("未找到该受理编号，或查询密码（手机号后四位）不正确", field="tracking_code")
    return CitizenStatusOut(
        tracking_code=complaint.tracking_code,
        status="received",
        status_text="已受理",
        channel=complaint.channel,
        kind=complaint.kind,
        text=complaint.text,
        category=complaint.category,
        grid_code=complaint.grid_code,
        has_location=complaint.lon is not None,
        attachments=[
            {k: v for k, v in a.items() if k in ("url", "content_type", "sha256", "size")}
            for a in complaint.attachments
        ],
        received_at=complaint.received_at,
        track_url=f"/api/v1/track/{complaint.tracking_code}",
    )
