"""The monthly report (``/reports``, JSON, CSV, XLSX), the staff case export (keyed) and the 逆向评价 page
(``/reviews``). Pages are jinja2 templates with inline CSS/JS; nothing is loaded from another host."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.analytics.access import StaffDep
from services.analytics.measures import service
from services.analytics.measures.periods import SHANGHAI, parse_month, previous_month, today
from services.analytics.reports.export import Section, csv_bytes, report_sections, xlsx_bytes
from services.analytics.stats import names
from shared.access import public
from shared.app import SessionDep
from shared.catalog import CATEGORY_NAMES, default_catalog
from shared.errors import InvalidInput

router = APIRouter(tags=["reports"])
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'"
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MonthQ = Annotated[str | None, Query(description="The month, e.g. 2026-11 (default: last month)", max_length=7)]
REPORT = public("monthly report: aggregates per department/street/category/channel/grid; no personal data")


def _month(month: str | None) -> date:
    return parse_month(month) if month else previous_month(today().replace(day=1))


def _download(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.get("/api/v1/reports/monthly", summary="The monthly report (月度考核报告) as JSON", openapi_extra=REPORT)
async def monthly_report(session: SessionDep, month: MonthQ = None) -> dict[str, Any]:
    return await service.monthly_report(session, _month(month))


@router.get(
    "/api/v1/reports/monthly.csv",
    summary="The monthly report as CSV (UTF-8 with BOM; one section after another)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    openapi_extra=REPORT,
)
async def monthly_report_csv(session: SessionDep, month: MonthQ = None) -> Response:
    report = await service.monthly_report(session, _month(month))
    return _download(
        csv_bytes(report_sections(report)), "text/csv; charset=utf-8", f"linkage-report-{report['month']}.csv"
    )


@router.get(
    "/api/v1/reports/monthly.xlsx",
    summary="The monthly report as an Excel workbook (one sheet per section)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
    openapi_extra=REPORT,
)
async def monthly_report_xlsx(session: SessionDep, month: MonthQ = None) -> Response:
    report = await service.monthly_report(session, _month(month))
    title = f"{report['district']}大联动 {report['period']['label']}考核报告"
    return _download(xlsx_bytes(report_sections(report), title=title), XLSX, f"linkage-report-{report['month']}.xlsx")


# ------------------------------------------------------------------------------------------- staff case export
async def _case_export(
    session: SessionDep,
    period: str,
    start: date | None,
    end: date | None,
    street: str | None,
    department: str | None,
    category: str | None,
    status: str | None,
    overdue: bool | None,
) -> tuple[str, Section]:
    p, rows = await service.case_rows(
        session,
        period=period,
        start=start,
        end=end,
        street=street or None,
        department=department or None,
        category=category or None,
        status=status or None,
        overdue=overdue,
    )
    section = Section(
        f"工单明细（{p.label}）",
        [h for _, h in service.EXPORT_COLUMNS],
        rows=[[r[k] for k, _ in service.EXPORT_COLUMNS] for r in rows],
        sheet="工单明细",
        widths=[24, 17, 12, 8, 12, 10, 14, 20, 26, 10, 17, 8, 8, 8, 10, 17],
    )
    return f"linkage-cases-{p.first.isoformat()}-{p.last.isoformat()}", section


ExportPeriod = Annotated[Literal["day", "week", "month", "custom"], Query(description="Period of 受理时间")]
ExportStatus = Annotated[str | None, Query(description="open (在办), done (办结/结案), or a state code", max_length=20)]
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no key, or an unknown or revoked one"},
    403: {"description": "not a dispatcher or admin key"},
    503: {"description": "the key could not be checked: dispatch is unavailable (Retry-After)"},
}


@router.get(
    "/api/v1/exports/cases.{fmt}",
    summary="Staff case export (CSV or XLSX): cases received in a period, filtered",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}, **EXPORT_RESPONSES},
)
async def export_cases(
    session: SessionDep,
    who: StaffDep,
    fmt: Literal["csv", "xlsx"],
    period: ExportPeriod = "month",
    start: Annotated[date | None, Query(description="A day inside the period (default today)")] = None,
    end: Annotated[date | None, Query(description="Last day of a custom period")] = None,
    street: Annotated[str | None, Query(max_length=20, description="Street code (where the case is)")] = None,
    department: Annotated[str | None, Query(max_length=20, description="Current lead department")] = None,
    category: Annotated[str | None, Query(max_length=4, description="Category code, e.g. CG")] = None,
    status: ExportStatus = None,
    overdue: Annotated[bool | None, Query(description="true: now past the deadline while in handling")] = None,
) -> Response:
    """Tracking code, received, channel, kind, category, matter, street, grid, lead, state, deadline, overdue,
    returns, reopens, survey result, closed — never a name, phone number, address or the citizen's text (analytics
    does not hold them). At most 50,000 rows, newest first. Dispatcher or admin key."""
    name, section = await _case_export(session, period, start, end, street, department, category, status, overdue)
    if fmt == "xlsx":
        return _download(xlsx_bytes([section], title=f"{default_catalog().district_name}大联动"), XLSX, f"{name}.xlsx")
    return _download(csv_bytes([section]), "text/csv; charset=utf-8", f"{name}.csv")


# ------------------------------------------------------------------------------------------- pages
def _reference() -> Markup:
    catalog = default_catalog()
    data = {
        "departments": [{"code": d.code, "name": d.name, "kind": d.kind} for d in catalog.departments],
        "categories": dict(CATEGORY_NAMES),
        "channels": dict(names.CHANNEL_NAMES),
        "states": dict(service.STATE_NAMES),
    }
    return Markup(json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"))


def _page(template: str, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(
        district=default_catalog().district_name, reference=_reference(), **context
    )
    return HTMLResponse(
        html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _delta(
    now: float | None, before: float | None, *, rate: bool = True, lower_is_better: bool = False, neutral: bool = False
) -> Markup:
    """环比: the change from the month before (green when better, red when worse; counts stay grey)."""
    if now is None or before is None:
        return Markup('<span class="delta">—</span>')
    diff = now - before
    if abs(diff) < 1e-9:
        return Markup('<span class="delta">持平</span>')
    good = (diff < 0) if lower_is_better else (diff > 0)
    arrow = "↑" if diff > 0 else "↓"
    text = f"{abs(diff) * 100:.1f}个百分点" if rate else f"{abs(diff):.0f}"
    tone = "" if neutral else (" up" if good else " down")
    return Markup(f'<span class="delta{tone}">{arrow} {text}</span>')


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


_env.filters["pct"] = _pct
_env.filters["num"] = _num
_env.globals["delta"] = _delta


def _bars(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of the daily bar chart (SVG drawn in the template)."""
    top = max([d["received"] for d in trend] + [d["closed"] for d in trend] + [1])
    step = 10 ** max(0, len(str(top)) - 1)
    top = ((top + step - 1) // step) * step
    return {"max": top, "ticks": [top * i // 4 for i in range(5)], "days": trend}


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
async def report_page(session: SessionDep, month: str | None = None) -> HTMLResponse:
    try:
        chosen = _month(month if month and len(month) <= 7 else None)
    except InvalidInput:  # a mistyped month in the address: show the default month instead of an error page
        chosen = _month(None)
    report = await service.monthly_report(session, chosen)
    months = []
    cursor = today().replace(day=1)
    for _ in range(13):
        months.append(cursor.strftime("%Y-%m"))
        cursor = previous_month(cursor)
    generated = datetime.fromisoformat(report["generated_at"]).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return _page(
        "report.html",
        r=report,
        months=months,
        generated=generated,
        chart=_bars(report["trend"]),
        figure_names=service.FIGURE_NAMES,
        streets=[(d.code, d.name) for d in default_catalog().streets()],
        handlers=[
            (d.code, d.name) for d in default_catalog().departments if d.kind in ("department", "utility", "street")
        ],
        categories=sorted(CATEGORY_NAMES.items()),
        states=service.STATE_NAMES,
        now_year=datetime.now(UTC).year,
    )


@router.get("/reviews", response_class=HTMLResponse, include_in_schema=False)
async def reviews_page() -> HTMLResponse:
    months = []
    cursor = today().replace(day=1)
    for _ in range(13):
        months.append(cursor.strftime("%Y-%m"))
        cursor = previous_month(cursor)
    return _page("reviews.html", months=months)
