"""``GET /console``: the operator page (jinja2 template, plain HTML + vanilla JS, no external resources)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.catalog import default_catalog

router = APIRouter(tags=["console"])
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
KINDS = ("咨询", "求助", "投诉", "举报", "建议", "表扬")


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
async def console(request: Request) -> HTMLResponse:
    catalog = default_catalog()
    html = _env.get_template("console.html").render(
        kinds=KINDS,
        district=catalog.district_name,
        catalog_version=catalog.version,
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            "Cache-Control": "no-store",
        },
    )
