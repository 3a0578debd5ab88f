"""``GET /display``: the command-center big screen (jinja2 template, inline CSS/JS, no external resources).

The page polls ``/api/v1/stats/overview``, ``/hotspots``, ``/departments`` and ``/events`` every 5 s.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.catalog import default_catalog

router = APIRouter(tags=["display"])
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'"
)


@router.get("/display", response_class=HTMLResponse, include_in_schema=False)
async def display() -> HTMLResponse:
    catalog = default_catalog()
    html = _env.get_template("display.html").render(district=catalog.district_name, refresh_ms=5000)
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})
