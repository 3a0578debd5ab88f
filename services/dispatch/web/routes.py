"""The dispatch web pages (jinja2 templates, inline CSS and vanilla JS, nothing loaded from elsewhere) and the
two small JSON endpoints only they need (``/api/v1/whoami``, ``/api/v1/dispatch/approvals``).

The pages hold no server session: staff paste their API key, the page keeps it in ``sessionStorage`` and sends
it as ``X-API-Key`` to the documented handler / dispatcher APIs.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.dispatch.api import common
from services.dispatch.api.schemas import CaseList
from services.dispatch.auth.service import DispatcherDep, Principal, principal
from services.dispatch.case.models import Case
from shared.app import SessionDep
from shared.calendar import coverage_report
from shared.catalog import CATEGORY_NAMES, default_catalog
from shared.logging import get_logger
from shared.wording import CHANNEL_NAMES, EMERGENCY_NAMES

log = get_logger(__name__)
router = APIRouter()
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'"
)
HANDLER_KINDS = ("street", "department", "utility")
ROLE_NAMES = {"handler": "承办单位", "dispatcher": "派单员", "admin": "管理员"}
KINDS = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
# The public place names shipped with the demo district (codes and names only; read as data, like analytics).
PLACES_FILE = Path(__file__).resolve().parents[2] / "intake" / "places" / "data" / "demo_district.geojson"


@functools.cache
def place_names() -> dict[str, str]:
    """Community and grid code → name (empty when the place file is not there: codes are shown instead)."""
    try:
        features = json.loads(PLACES_FILE.read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError):
        log.warning("place names unavailable", path=str(PLACES_FILE))
        return {}
    names: dict[str, str] = {}
    for feature in features:
        props = feature.get("properties") or {}
        if props.get("level") in ("community", "grid") and props.get("code") and props.get("name"):
            names[str(props["code"])] = str(props["name"])
    return names


def _calendar_warning() -> str | None:
    try:
        warning = coverage_report().get("warning")
    except Exception:  # noqa: BLE001 - a broken calendar must not take the page down; the banner says so
        log.exception("calendar coverage report failed")
        return "节假日数据异常，期限计算可能不准确，请管理员检查"
    return str(warning) if warning else None


def _reference() -> Markup:
    """Catalog reference data for the page scripts (codes and names only)."""
    catalog = default_catalog()
    data = {
        "departments": [{"code": d.code, "name": d.name, "kind": d.kind} for d in catalog.departments],
        "handlers": [
            {"code": d.code, "name": d.name, "kind": d.kind}
            for kind in HANDLER_KINDS
            for d in catalog.departments
            if d.kind == kind
        ],
        "categories": CATEGORY_NAMES,
        "matters": [
            {"code": m.code, "name": m.name, "category": m.category, "lead": m.lead, "co": m.co_handlers}
            for m in catalog.matters
        ],
        "places": place_names(),
        "channels": CHANNEL_NAMES,
        "emergency": EMERGENCY_NAMES,
        "kinds": KINDS,
    }
    # json inside <script>: escape "<" so no "</script>" can close the tag.
    return Markup(json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"))


def _page(template: str, **context: Any) -> HTMLResponse:
    catalog = default_catalog()
    html = _env.get_template(template).render(
        district=catalog.district_name, center=catalog.center().name, reference=_reference(), **context
    )
    return HTMLResponse(
        html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.get("/track", response_class=HTMLResponse, include_in_schema=False)
async def track_page() -> HTMLResponse:
    return _page("track.html")


@router.get("/handler", response_class=HTMLResponse, include_in_schema=False)
async def handler_page() -> HTMLResponse:
    return _page("handler.html", calendar_warning=_calendar_warning())


@router.get("/workbench", response_class=HTMLResponse, include_in_schema=False)
async def workbench_page() -> HTMLResponse:
    return _page("workbench.html", calendar_warning=_calendar_warning())


@router.get(
    "/api/v1/whoami",
    tags=["auth"],
    summary="The role and department of the X-API-Key (for the pages)",
    responses={401: {"description": "missing or unknown API key"}},
)
async def whoami(who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    dept = default_catalog().get_department(who.department)
    return {
        "role": who.role,
        "role_name": ROLE_NAMES.get(who.role, who.role),
        "department": who.department,
        "department_name": dept.name if dept else who.department,
        "label": who.label,
    }


@router.get(
    "/api/v1/dispatch/approvals",
    tags=["dispatcher"],
    response_model=dict[str, CaseList],
    summary="Pending approvals: returned cases (退单审核) and extension requests (延期审核)",
    responses={401: {"description": "missing or unknown API key"}, 403: {"description": "not a dispatcher"}},
)
async def approvals(
    session: SessionDep, who: DispatcherDep, limit: Annotated[int, Query(ge=1, le=200)] = 100
) -> dict[str, CaseList]:
    returns = await common.list_cases(
        session,
        where=[],
        state="returned",
        category=None,
        street=None,
        matter_code=None,
        overdue=None,
        limit=limit,
        offset=0,
    )
    extensions = await common.list_cases(
        session,
        where=[Case.extension_status == "requested"],
        state="signed",
        category=None,
        street=None,
        matter_code=None,
        overdue=None,
        limit=limit,
        offset=0,
    )
    return {"returns": returns, "extensions": extensions}
