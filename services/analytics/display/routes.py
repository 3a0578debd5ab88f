"""``GET /display``: the command-center wall screen (1920×1080, dark, Simplified Chinese), its snapshot and its
Server-Sent Events stream.

- ``/display`` renders the page with the district's grids as an inline SVG map drawn here from the grid GeoJSON;
  the page loads nothing from elsewhere (CSP ``default-src 'self'``).
- ``/api/v1/display/snapshot``: the compact JSON snapshot the page shows (aggregates, no personal data).
- ``/api/v1/display/stream``: the same snapshot pushed as ``event: snapshot`` when it changes (looked at every
  ``interval_s``), an ``event: tick`` in between, ``retry: 3000`` so a browser reconnects by itself, and an
  end after ``MAX_STREAM_S`` (the browser reconnects: no connection lives for ever behind a proxy).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.analytics.display.geo import district_map
from services.analytics.display.service import HUB
from shared.access import public
from shared.app import RuntimeDep
from shared.catalog import default_catalog
from shared.errors import DomainError
from shared.logging import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["display"])
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'"
)
MAX_STREAM_S = 600.0
RETRY_MS = 3000
AGGREGATES = public("wall screen: aggregate counts, masked case numbers, no personal data")


class NotAcceptable(DomainError):
    status_code = 406
    code = "not_acceptable"


@router.get("/display", response_class=HTMLResponse, include_in_schema=False)
async def display(mode: str = "volume") -> HTMLResponse:
    catalog = default_catalog()
    html = _env.get_template("display.html").render(
        district=catalog.district_name,
        map=district_map(),
        mode="overdue" if mode == "overdue" else "volume",
        retry_ms=RETRY_MS,
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


@router.get(
    "/api/v1/display/snapshot",
    summary="What the wall screen shows, now",
    responses={503: {"description": "the database is unavailable"}},
    openapi_extra=AGGREGATES,
)
async def display_snapshot(runtime: RuntimeDep) -> dict[str, Any]:
    """Today's counters, channels, categories, hours, 14-day trend; per-grid and per-street figures; overdue and
    red lists (masked case number, category/matter, street, working days late); this month's 三率 ranking and
    红黑榜; 未诉先办 hot spots and patrol tasks; the latest events. Recomputed at most every 2 s."""
    snap, _ = await HUB.get(runtime.sessionmaker)
    return snap


def _sse(event: str, data: Any, event_id: str | None = None) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return (f"id: {event_id}\n" if event_id else "") + f"event: {event}\ndata: {body}\n\n"


@router.get(
    "/api/v1/display/stream",
    summary="The wall screen's snapshot as Server-Sent Events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "event: snapshot / tick / status"},
        406: {"description": "not asked for text/event-stream"},
    },
    openapi_extra=AGGREGATES,
)
async def display_stream(
    request: Request,
    runtime: RuntimeDep,
    interval_s: Annotated[float, Query(ge=1.0, le=60.0)] = 3.0,
) -> StreamingResponse:
    """``event: snapshot`` (the JSON of ``/api/v1/display/snapshot``) first and whenever it changes; ``event: tick``
    (``{"at"}``) when nothing changed; ``event: status`` (``{"ok": false}``) while the data cannot be read. Needs
    ``Accept: text/event-stream`` (as ``EventSource`` sends); the stream ends after 10 minutes and the browser
    reconnects."""
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise NotAcceptable("请以 Accept: text/event-stream 订阅大屏数据流（或读取 /api/v1/display/snapshot）")

    async def events() -> AsyncIterator[str]:
        started = time.monotonic()
        last = ""
        yield f"retry: {RETRY_MS}\n\n"
        while time.monotonic() - started < MAX_STREAM_S:
            if await request.is_disconnected():
                break
            try:
                snap, fp = await HUB.get(runtime.sessionmaker)
            except Exception as exc:  # noqa: BLE001 - the database away: say so, keep the connection, try again
                log.warning("display snapshot failed", error=repr(exc))
                yield _sse("status", {"ok": False, "at": datetime.now(UTC).isoformat()})
            else:
                if fp != last:
                    yield _sse("snapshot", snap, fp)
                    last = fp
                else:
                    yield _sse("tick", {"at": datetime.now(UTC).isoformat()}, fp)
            await asyncio.sleep(interval_s)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
