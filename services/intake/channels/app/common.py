"""Helpers the WeChat, app and grid channels share: enrichment, supplements, form/JSON bodies."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from python_multipart.multipart import parse_options_header
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from services.intake.complaint.flows import place_ref as place_ref  # the grid channel imports it from here
from services.intake.complaint.models import Complaint
from services.intake.complaint.schemas import ComplaintDraft
from services.intake.places import GridRef, default_places
from services.intake.places.flows import place_of_address, place_of_point
from shared import topics
from shared.app import ServiceRuntime
from shared.errors import DomainError, UnsupportedMedia
from shared.events.complaints import Attachment, ComplaintSupplementedV1, GeoPoint
from shared.logging import get_logger
from shared.outbox import add_event

log = get_logger(__name__)


M = TypeVar("M", bound=BaseModel)


def locate(point: GeoPoint | None) -> GridRef | None:
    """The grid of a WGS-84 point (a few metres of GPS tolerance at the district edge)."""
    if point is None:
        return None
    return default_places().index.locate(point.lon, point.lat, tolerance_m=30.0)


def _flows_enrich() -> Callable[..., Any] | None:
    try:
        flows = importlib.import_module("services.intake.complaint.flows")
    except ImportError:
        return None
    fn = getattr(flows, "enrich", None)
    return fn if callable(fn) else None


async def enrich(
    runtime: ServiceRuntime | None, draft: ComplaintDraft, *, timeout_s: float | None = None
) -> ComplaintDraft:
    """Classify and locate a draft with the intake flow if there is one; always fill the grid from the point.

    With ``timeout_s`` a slow enrichment is abandoned (the WeChat reply must leave within 5 s): the draft
    is stored as it is and dispatch triages it.
    """
    fn = runtime.extras.get("enrich") if runtime is not None else None
    fn = fn or _flows_enrich()
    if fn is not None:
        try:
            result = fn(draft)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, timeout_s) if timeout_s else await result
            if isinstance(result, ComplaintDraft):
                draft = result
        except TimeoutError:
            log.warning("enrichment timed out; storing the draft unenriched", channel=draft.channel)
        except Exception:  # noqa: BLE001 - a failing classifier must not lose a complaint
            log.exception("enrichment failed; storing the draft unenriched", channel=draft.channel)
    if draft.place is None and draft.location is not None:
        draft = draft.model_copy(update={"place": place_of_point(draft.location)})
    return draft


async def supplement_complaint(
    session: AsyncSession,
    complaint: Complaint,
    *,
    location: GeoPoint | None = None,
    attachments: Sequence[Attachment] = (),
    text: str | None = None,
    address: str | None = None,
) -> ComplaintSupplementedV1:
    """Store a later location/photo/text/address on the complaint and stage ``complaint.supplemented.v1``.

    A location gives the grid (a point outside the district gives no grid: the event's place carries the
    ``outside_district`` flag). An address for a complaint without a grid goes through the gazetteer: when it
    resolves, the event carries its place (and its point) like a location would, so dispatch can route a case
    waiting in triage for its place."""
    place = None
    if location is not None:
        place = place_of_point(location)
        complaint.lon, complaint.lat, complaint.location_source = location.lon, location.lat, location.source
    elif address and address.strip() and not complaint.grid_code:
        found = place_of_address(address)
        place, location = found.place, found.location
        if location is not None:
            complaint.lon, complaint.lat, complaint.location_source = location.lon, location.lat, location.source
    if place is not None and (place.grid_code or (place.street_code and not complaint.street_code)):
        complaint.place = place.model_dump()
        complaint.street_code = place.street_code
        complaint.community_code = place.community_code
        complaint.grid_code = place.grid_code
    if attachments:
        complaint.attachments = [*complaint.attachments, *(a.model_dump(exclude_none=True) for a in attachments)]
    if address and not complaint.address:
        complaint.address = address[:300]
    event = ComplaintSupplementedV1(
        complaint_id=complaint.id,
        tracking_code=complaint.tracking_code,
        text=text,
        location=location,
        place=place,
        address=address,
        attachments=list(attachments),
        supplemented_at=datetime.now(UTC),
    )
    add_event(session, topics.COMPLAINTS, event, key=complaint.id, source="intake")
    await session.flush()
    return event


async def read_body(
    request: Request, *, max_files: int, max_fields: int = 40
) -> tuple[dict[str, Any], list[UploadFile]]:
    """A JSON object or a multipart/urlencoded form as (fields, files); anything else is a 415."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = await request.json()
        except ValueError as exc:
            raise DomainError(f"body is not valid JSON: {exc}", field="body") from exc
        if not isinstance(data, dict):
            raise DomainError("body must be a JSON object", field="body")
        return data, []
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        if content_type == "multipart/form-data":
            await check_multipart_complete(request)
        try:
            form = await request.form(max_files=max_files, max_fields=max_fields)
        except HTTPException as exc:
            field = "photos" if "files" in str(exc.detail) else "body"
            raise DomainError(f"bad form body: {exc.detail}", field=field) from exc
        fields: dict[str, Any] = {}
        files: list[UploadFile] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append(value)
            elif key in fields:
                raise DomainError(f"field {key!r} given more than once", field=key)
            else:
                fields[key] = value
        return fields, files
    raise UnsupportedMedia(
        "send application/json or multipart/form-data", field="content-type", got=content_type or None
    )


async def check_multipart_complete(request: Request) -> None:
    """400 for a multipart body without its closing boundary (``--boundary--``): the parser would return the
    parts before the cut and silently drop a half-sent photo. Reads the (size-limited) body once; the form
    parser then reads the cached bytes."""
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary", b"")
    if not boundary:
        raise DomainError(
            "multipart 请求缺少 boundary 参数（Content-Type: multipart/form-data; boundary=…）", field="body"
        )
    raw = await request.body()
    close = b"--" + boundary + b"--"
    if not (raw.startswith(close) or b"\r\n" + close in raw):
        raise DomainError("multipart 请求体不完整：缺少结束分隔符，照片等内容可能未传完，请重新提交", field="body")


def validate(model: type[M], data: dict[str, Any]) -> M:
    """Validate into ``model``; errors go through the standard 422 body that names each field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def idempotency_key(request: Request, body_value: str | None) -> str:
    key = (request.headers.get("idempotency-key") or body_value or "").strip()
    if not key:
        raise RequestValidationError(
            [
                {
                    "loc": ("client_request_id",),
                    "msg": "send an Idempotency-Key header or a client_request_id field",
                    "type": "missing",
                }
            ]
        )
    if len(key) > 100:
        raise RequestValidationError(
            [{"loc": ("client_request_id",), "msg": "at most 100 characters", "type": "string_too_long"}]
        )
    return key
