"""Open311 GeoReport v2 at ``/open311/v2`` — every answer in ``.json`` or ``.xml``, errors as the spec's list.

Reading requests is public (no api_key): every answer is redacted (``service.request_entry``) and rate-limited
per client address (429 in the spec's error list, with ``Retry-After``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from services.intake.channels.open311 import service, xml
from services.intake.channels.open311.schemas import Open311Error, parse_request
from services.intake.complaint import service as complaints
from shared.access import public
from shared.app import RuntimeDep, SessionDep
from shared.logging import get_logger
from shared.openapi import RETRY_AFTER
from shared.ratelimit import SettingsRateLimit, TooManyRequests, public_rate_limit

log = get_logger(__name__)
router = APIRouter(prefix="/open311/v2", tags=["open311"])

FORMATS = ("json", "xml")
LIST_LIMIT = public_rate_limit("open311-list")
LOOKUP_LIMIT = public_rate_limit("open311-lookup")
# (XML root, XML item) per answer shape; None item = a single document
SHAPES: dict[str, tuple[str, str | None]] = {
    "discovery": ("discovery", None),
    "services": ("services", "service"),
    "definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
}


# The OpenAPI answers as they really are: JSON or XML by the path's format, errors as GeoReport's error list.
_XML = {"text/xml": {"schema": {"type": "string", "description": "the same answer as GeoReport v2 XML"}}}
_ERROR_LIST = {
    "type": "array",
    "description": "GeoReport v2 error list",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
_ERROR_TEXT = {
    400: "a parameter or the form is invalid",
    403: "api_key missing or not valid",
    404: "unknown format, jurisdiction_id, service_code, request or token",
    429: "too many requests from this address (Retry-After)",
}
_JURISDICTION = {"name": "jurisdiction_id", "in": "query", "required": False, "schema": {"type": "string"}}


def _doc(reason: str, *errors: int, success: int = 200, parameters: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """``openapi_extra`` of an Open311 operation: public, answers in both formats, its GeoReport errors."""
    responses: dict[str, Any] = {
        str(success): {"description": "the answer", "content": {"application/json": {"schema": {}}, **_XML}}
    }
    for status in errors:
        responses[str(status)] = {
            "description": f"{_ERROR_TEXT[status]} (GeoReport error list)",
            "content": {"application/json": {"schema": _ERROR_LIST}, **_XML},
            **({"headers": RETRY_AFTER} if status == 429 else {}),
        }
    return {**public(reason), "parameters": [_JURISDICTION, *parameters], "responses": responses}


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


LIST_PARAMETERS = (
    _query("service_request_id", "comma-separated request ids (overrides the other filters)", maxLength=2000),
    _query("service_code", "comma-separated service codes", maxLength=2000),
    _query("start_date", "W3C date-time", format="date-time"),
    _query("end_date", "W3C date-time (at most 90 days after start_date)", format="date-time"),
    _query("status", "open, closed or both comma-separated"),
    _query("page", "page number from 1"),
    _query("page_size", "at most 100 (default 50)"),
)
CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code"],
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "api_key",
                            "jurisdiction_id",
                            "service_code",
                            "description",
                            "lat",
                            "long",
                            "address_string",
                            "address_id",
                            "email",
                            "device_id",
                            "account_id",
                            "first_name",
                            "last_name",
                            "phone",
                            "media_url",
                        )
                    },
                }
            }
        },
    }
}


def render(fmt: str, shape: str, data: Any, status_code: int = 200) -> Response:
    if fmt == "xml":
        root, item = SHAPES[shape]
        body = xml.listing(root, item, data) if item else xml.document(root, data)
        return Response(body, status_code=status_code, media_type="text/xml; charset=utf-8")
    return Response(
        json.dumps(data, ensure_ascii=False), status_code=status_code, media_type="application/json; charset=utf-8"
    )


def error(fmt: str, exc: Open311Error) -> Response:
    items = [{"code": exc.code, "description": exc.description}]
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
    if fmt == "xml":
        return Response(xml.errors(items), status_code=exc.code, media_type="text/xml; charset=utf-8", headers=headers)
    return Response(
        json.dumps(items, ensure_ascii=False), status_code=exc.code, media_type="application/json", headers=headers
    )


def check_rate(limit: SettingsRateLimit, request: Request) -> None:
    try:
        limit.check(request)
    except TooManyRequests as exc:
        raise Open311Error(429, exc.message, retry_after_s=exc.retry_after_s) from None


async def answer(
    fmt: str,
    shape: str,
    produce: Callable[[], Awaitable[Any]],
    status_code: int = 200,
    *,
    limit: tuple[SettingsRateLimit, Request] | None = None,
) -> Response:
    """Run ``produce`` and render its result (or its error) in ``fmt``; with ``limit``, rate-limited first."""
    shown = fmt if fmt in FORMATS else "json"
    try:
        if limit is not None:
            check_rate(*limit)
        if fmt not in FORMATS:
            raise Open311Error(404, f"format {fmt!r} not supported; use .json or .xml")
        return render(fmt, shape, await produce(), status_code)
    except Open311Error as exc:
        return error(shown, exc)


def base_url(request: Request, runtime: RuntimeDep) -> str:
    return runtime.settings.public_base_url or str(request.base_url).rstrip("/")


@router.get("/discovery.{fmt}", openapi_extra=_doc("Open311 discovery document", 404))
async def discovery(fmt: str, request: Request, runtime: RuntimeDep) -> Response:
    async def produce() -> Any:
        return service.discovery(runtime.settings, base_url(request, runtime))

    return await answer(fmt, "discovery", produce)


@router.get("/services.{fmt}", openapi_extra=_doc("Open311 service list (the catalog)", 404))
async def services(fmt: str, request: Request, runtime: RuntimeDep) -> Response:
    async def produce() -> Any:
        service.check_jurisdiction(runtime.settings, request.query_params.get("jurisdiction_id"))
        return service.list_services()

    return await answer(fmt, "services", produce)


@router.get("/services/{code}.{fmt}", openapi_extra=_doc("Open311 service definition", 404))
async def service_definition(code: str, fmt: str, request: Request, runtime: RuntimeDep) -> Response:
    async def produce() -> Any:
        service.check_jurisdiction(runtime.settings, request.query_params.get("jurisdiction_id"))
        return service.service_definition(code)

    return await answer(fmt, "definition", produce)


async def _form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise Open311Error(400, "POST requests must be form-encoded (application/x-www-form-urlencoded)")
    try:
        form = await request.form()
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's
        raise Open311Error(400, f"form body could not be parsed: {exc}") from None
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise Open311Error(400, f"{key}: file uploads are not accepted; send media_url")
        out[key] = value
    return out


@router.post(
    "/requests.{fmt}",
    status_code=201,
    openapi_extra={**_doc("credential in the form: Open311 api_key", 400, 403, 404, success=201), **CREATE_BODY},
)
async def create_request(fmt: str, request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """POST a service request (form-encoded; ``api_key`` required)."""

    async def produce() -> Any:
        form = await _form(request)
        service.check_api_key(runtime.settings, form.get("api_key") or request.query_params.get("api_key"))
        service.check_jurisdiction(runtime.settings, form.get("jurisdiction_id"))
        parsed = parse_request(form)
        complaint, created = await service.create_request(session, parsed)
        await session.commit()
        if created:
            runtime.relay.wake()
        log.info("open311 request", tracking_code=complaint.tracking_code, created=created)
        entry = service.created_entry(complaint, parsed)
        if created and (secret := complaints.issued_secret(complaint)):
            entry["tracking_secret"] = secret  # 查询密码, once: the citizen's key to their own complaint
        return [entry]

    return await answer(fmt, "requests", produce, status_code=201)


@router.get(
    "/requests.{fmt}",
    openapi_extra=_doc("redacted, paginated, rate-limited", 400, 404, 429, parameters=LIST_PARAMETERS),
)
async def list_requests(fmt: str, request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Public, redacted, paginated (``page``, ``page_size`` ≤ 100) and rate-limited."""

    async def produce() -> Any:
        params = dict(request.query_params)
        service.check_jurisdiction(runtime.settings, params.get("jurisdiction_id"))
        return await service.list_requests(session, runtime.settings, params)

    return await answer(fmt, "requests", produce, limit=(LIST_LIMIT, request))


@router.get("/requests/{request_id}.{fmt}", openapi_extra=_doc("redacted, rate-limited", 404, 429))
async def get_request(
    request_id: str, fmt: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Public and redacted (no name, phone, e-mail; coarse address and point); rate-limited."""

    async def produce() -> Any:
        service.check_jurisdiction(runtime.settings, request.query_params.get("jurisdiction_id"))
        return await service.get_request(session, runtime.settings, request_id)

    return await answer(fmt, "requests", produce, limit=(LOOKUP_LIMIT, request))


@router.get("/tokens/{token}.{fmt}", openapi_extra=_doc("Open311 token → request id, rate-limited", 404, 429))
async def get_token(token: str, fmt: str, request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    async def produce() -> Any:
        service.check_jurisdiction(runtime.settings, request.query_params.get("jurisdiction_id"))
        return await service.get_token(session, token)

    return await answer(fmt, "requests", produce, limit=(LOOKUP_LIMIT, request))
