"""GeoReport v2 behaviour as plain functions: services from the matter catalog, requests as complaints.

- ``service_code`` is a matter code (事项编码); ``group`` its category's Chinese name; JJ (紧急警情) matters are
  not offered: emergencies are called in to 110/119/120/122, not filed.
- ``service_request_id`` is the complaint's tracking code. Every accepted request is stored at once, so the
  POST answers with the id; it also returns a ``token`` usable with ``tokens/{token}``.
- Idempotency: with a ``device_id``, the channel key hashes the device and the request's content, so a client
  retrying the same POST gets the same request back; without one every POST is a new request.
- Status ``open``/``closed`` comes from the case in dispatch (``closed`` = 结案 or 转警).
- Reading is public: every request shows a redacted description (or none, per
  ``LINKAGE_PUBLIC_DESCRIPTION_POLICY``), a coarse address and a point rounded to ~100 m; never a name, phone
  number or e-mail (see :func:`request_entry` and ``shared/redact.py``).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channels.hotline.dispatch_client import case_states, open311_status
from services.intake.channels.open311.schemas import KINDS, Open311Error, ServiceRequestIn, parse_datetime
from services.intake.complaint import flows
from services.intake.complaint import service as complaints
from services.intake.complaint.models import Complaint
from services.intake.complaint.schemas import ComplaintDraft
from shared.catalog import Matter, default_catalog
from shared.events.complaints import Attachment, GeoPoint, Reporter
from shared.redact import coarsen_address, coarsen_point, public_description
from shared.settings import Settings

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-24T00:00:00Z"
MAX_SPAN = timedelta(days=90)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def discovery(settings: Settings, base_url: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "成华区大联动中心 12345 热线",
        "key_service": "向大联动中心申请 api_key（演示环境见 var/linkage-up.json）",
        "endpoints": [
            {
                "specification": SPEC,
                "url": f"{base_url.rstrip('/')}/open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def offered(matter: Matter) -> bool:
    return not matter.is_emergency


def service_entry(matter: Matter) -> dict[str, Any]:
    return {
        "service_code": matter.code,
        "service_name": matter.name,
        "description": matter.examples[0] if matter.examples else matter.name,
        "metadata": True,
        "type": "realtime",
        "keywords": ",".join(matter.keywords),
        "group": matter.category_name,
    }


def list_services() -> list[dict[str, Any]]:
    return [service_entry(m) for m in default_catalog().matters if offered(m)]


def find_service(code: str) -> Matter:
    matter = default_catalog().get_matter(code)
    if matter is None or not offered(matter):
        raise Open311Error(404, f"service_code {code} not found")
    return matter


def service_definition(code: str) -> dict[str, Any]:
    matter = find_service(code)
    return {
        "service_code": matter.code,
        "attributes": [
            {
                "variable": True,
                "code": "kind",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "诉求类型；不填时由系统判断",
                "order": 1,
                "description": "诉求类型",
                "values": [{"key": k, "name": k} for k in KINDS],
            },
            {
                "variable": True,
                "code": "photo_url",
                "datatype": "string",
                "required": False,
                "datatype_description": "照片的 http(s) 地址",
                "order": 2,
                "description": "现场照片链接（可选）",
            },
        ],
    }


def check_api_key(settings: Settings, api_key: str | None) -> None:
    if not api_key:
        raise Open311Error(403, "api_key is required")
    if api_key not in settings.open311_keys:
        raise Open311Error(403, "api_key is not valid")


def check_jurisdiction(settings: Settings, jurisdiction_id: str | None) -> None:
    if jurisdiction_id and jurisdiction_id != settings.open311_jurisdiction:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction_id} not found")


def channel_key(req: ServiceRequestIn) -> str:
    """``device_id`` + content hash (a retried POST is one request) or a random key (no device, no dedupe)."""
    if req.device_id:
        content = "\x1f".join(
            str(v)
            for v in (
                req.device_id,
                req.service_code,
                req.description,
                req.lat,
                req.lon,
                req.address_string,
                req.address_id,
                req.media_url,
                sorted(req.attributes.items()),
            )
        )
        return "d-" + hashlib.sha256(content.encode()).hexdigest()[:40]
    return "r-" + uuid.uuid4().hex


def token_of(key: str) -> str:
    return key


def draft_of(req: ServiceRequestIn, matter: Matter) -> ComplaintDraft:
    attachments = [Attachment(url=u) for u in (req.media_url, req.attributes.get("photo_url")) if u]
    user_id = (
        req.account_id
        or (f"email:{req.email}" if req.email else None)
        or (f"device:{req.device_id}" if req.device_id else None)
    )
    return ComplaintDraft(
        channel="open311",
        channel_key=channel_key(req),
        text=req.description or matter.name,
        kind=req.kind,
        address=req.address_string or (f"address_id:{req.address_id}" if req.address_id else None),
        location=GeoPoint(lon=req.lon, lat=req.lat, source="open311")
        if req.lat is not None and req.lon is not None
        else None,
        reporter=Reporter(name=req.name, phone=req.phone, user_id=user_id),
        attachments=attachments,
        matter_code=matter.code,
    )


async def create_request(session: AsyncSession, req: ServiceRequestIn) -> tuple[Complaint, bool]:
    matter = find_service(req.service_code)
    draft = await flows.enrich(draft_of(req, matter))
    return await complaints.create_complaint(session, draft)


def created_entry(c: Complaint, req: ServiceRequestIn) -> dict[str, Any]:
    notice = "已受理，请凭受理编号查询办理进度"
    if c.address_status in ("unresolved", "ambiguous"):
        notice += "；地址未能识别，工作人员将与您核实"
    return {
        "service_request_id": c.tracking_code,
        "token": token_of(c.channel_key),
        "service_notice": notice,
        "account_id": req.account_id or "",
    }


def _w3c(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def public_address(c: Complaint) -> str:
    """Requests filed through Open311: the address given, without house numbers (``建设路12号3栋`` → ``建设路``);
    other channels (and anything that coarsens to nothing): the street, community and grid names."""
    place = c.place or {}
    area = "".join(str(place.get(k) or "") for k in ("street_name", "community_name", "grid_name"))
    given = c.address if c.channel == "open311" and c.address and not c.address.startswith("address_id:") else ""
    return coarsen_address(given) or area


def request_entry(c: Complaint, case: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A complaint as a public GeoReport request: redacted description (or none, per policy), coarse address,
    point rounded to ~100 m, media only for requests filed through Open311; no reporter fields at all."""
    matter = default_catalog().get_matter(c.matter_code) if c.matter_code else None
    own = c.channel == "open311"
    point = coarsen_point(c.lat, c.lon) if c.lat is not None and c.lon is not None else None
    media = next((a.get("url") for a in c.attachments or [] if a.get("url")), "")
    return {
        "service_request_id": c.tracking_code,
        "status": open311_status(case["state"]),
        "status_notes": case["state_name"],
        "service_name": matter.name if matter else "",
        "service_code": c.matter_code or "",
        "description": public_description(c.text, settings.public_description_policy),
        "agency_responsible": case.get("lead") or "",
        "service_notice": "",
        "requested_datetime": _w3c(c.received_at),
        "updated_datetime": _w3c(case.get("updated_at") or c.received_at),
        "expected_datetime": _w3c(case.get("deadline_at")),
        "address": public_address(c),
        "address_id": "",
        "zipcode": "",
        "lat": point[0] if point else "",
        "long": point[1] if point else "",
        "media_url": media if own else "",
    }


async def _entries(settings: Settings, rows: list[Complaint]) -> list[dict[str, Any]]:
    states = await case_states(settings, [c.id for c in rows])
    return [request_entry(c, states[c.id], settings) for c in rows]


async def get_request(session: AsyncSession, settings: Settings, request_id: str) -> list[dict[str, Any]]:
    c = await complaints.get_by_tracking_code(session, request_id)
    if c is None:
        raise Open311Error(404, f"service_request_id {request_id} not found")
    return await _entries(settings, [c])


async def get_token(session: AsyncSession, token: str) -> list[dict[str, Any]]:
    c = await complaints.get_by_channel_key(session, "open311", token)
    if c is None:
        raise Open311Error(404, f"token {token} not found")
    return [{"service_request_id": c.tracking_code, "token": token}]


def _csv(raw: str | None, name: str, limit: int = 100) -> list[str]:
    if raw is None:
        return []
    items = [p.strip() for p in raw.split(",") if p.strip()]
    if not items:
        raise Open311Error(400, f"{name} is empty")
    if len(items) > limit:
        raise Open311Error(400, f"{name} lists more than {limit} values")
    return items


def _positive_int(params: dict[str, str], name: str, default: int, maximum: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a whole number: {raw!r}") from None
    if value < 1 or (maximum is not None and value > maximum):
        bound = f"between 1 and {maximum}" if maximum is not None else "at least 1"
        raise Open311Error(400, f"{name} must be {bound}")
    return value


def page_of(params: dict[str, str]) -> tuple[int, int]:
    """(offset, limit) from ``page`` (from 1) and ``page_size`` (default 50, at most 100)."""
    page = _positive_int(params, "page", 1, 100_000)
    size = _positive_int(params, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
    return (page - 1) * size, size


async def list_requests(
    session: AsyncSession, settings: Settings, params: dict[str, str], *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """GET requests: ``service_request_id`` (comma list, overrides the rest), ``service_code`` (comma list),
    ``start_date``/``end_date`` (at most 90 days; default the last 90), ``status`` (open, closed), ``page`` and
    ``page_size`` (newest first; ``status`` filters within the page, as it comes from dispatch)."""
    offset, size = page_of(params)
    ids = _csv(params.get("service_request_id"), "service_request_id")
    if ids:
        stmt = select(Complaint).where(Complaint.tracking_code.in_(ids)).order_by(Complaint.received_at.desc())
        return await _entries(settings, list((await session.execute(stmt)).scalars()))
    codes = _csv(params.get("service_code"), "service_code")
    statuses = {s.lower() for s in _csv(params.get("status"), "status")}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open or closed")
    now = now or datetime.now(UTC)
    start = parse_datetime("start_date", params["start_date"]) if params.get("start_date") else None
    end = parse_datetime("end_date", params["end_date"]) if params.get("end_date") else None
    if start and end and start > end:
        raise Open311Error(400, "start_date is after end_date")
    if start and end and end - start > MAX_SPAN:
        raise Open311Error(400, "start_date to end_date may not span more than 90 days")
    if start is None:
        start = (end or now) - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    stmt = select(Complaint).where(Complaint.received_at >= start, Complaint.received_at <= end)
    if codes:
        stmt = stmt.where(Complaint.matter_code.in_(codes))
    stmt = stmt.order_by(Complaint.received_at.desc(), Complaint.id.desc()).offset(offset).limit(size)
    entries = await _entries(settings, list((await session.execute(stmt)).scalars()))
    if statuses:
        entries = [e for e in entries if e["status"] in statuses]
    return entries
