"""``GET /console``: the operator page (jinja2 template, plain HTML + vanilla JS, no external resources).

Without a valid session it shows the login form; ``POST /console/login`` checks the password (rate-limited
per client address) and sets a signed, HttpOnly, SameSite=Strict session cookie; ``POST /console/logout``
ends every session of the account.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.intake.operators import service as operators
from services.intake.operators.auth import console_caller, find_account, forget_account
from services.intake.operators.sessions import COOKIE_NAME, sign_session
from shared.app import RuntimeDep
from shared.catalog import default_catalog
from shared.ratelimit import TooManyRequests, rate_limit

router = APIRouter(tags=["console"])
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
KINDS = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
login_limit = rate_limit("console-login", per_minute=10, burst=5)
# a password check of a missing account costs the same as a real one (no account enumeration by timing)
_DUMMY_HASH = operators.hash_password("linkage-no-such-account")

SessionCookie = Annotated[str | None, Cookie(alias=COOKIE_NAME, include_in_schema=False)]


def _page(
    template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: object
) -> HTMLResponse:
    catalog = default_catalog()
    html = _env.get_template(template).render(
        district=catalog.district_name, catalog_version=catalog.version, **context
    )
    return HTMLResponse(html, status_code=status_code, headers={**HEADERS, **(headers or {})})


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
async def console(runtime: RuntimeDep, cookie: SessionCookie = None) -> HTMLResponse:
    caller = await console_caller(runtime, cookie)
    if caller is None:
        return _page("login.html", error=None, username="")
    return _page("console.html", kinds=KINDS, operator=caller)


@router.post("/console/login", response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, runtime: RuntimeDep) -> Response:
    try:
        await login_limit(request)
    except TooManyRequests as exc:
        return _page("login.html", 429, {"Retry-After": str(exc.retry_after_s)}, error=exc.message, username="")
    form = await request.form()
    username = str(form.get("username") or "").strip().lower()[:64]
    password = str(form.get("password") or "")[:256]
    found = await find_account(runtime, username) if username else None
    stored = found[1] if found else None
    valid = await asyncio.to_thread(operators.verify_password, password, stored or _DUMMY_HASH)
    if found is None or stored is None or not valid:
        return _page("login.html", 401, error="用户名或密码错误", username=username)
    account = found[0]
    if account.disabled:
        return _page("login.html", 403, error="该账号已停用，请联系班长", username=username)
    lifetime = timedelta(hours=runtime.settings.console_session_hours)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        sign_session(runtime.settings.session_secret, account.id, lifetime=lifetime),
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/console/logout", include_in_schema=False)
async def logout(runtime: RuntimeDep, cookie: SessionCookie = None) -> Response:
    caller = await console_caller(runtime, cookie)
    if caller is not None and caller.operator_id is not None:
        async with runtime.sessionmaker() as session:
            await operators.revoke_sessions(session, caller.operator_id)
            await session.commit()
        forget_account(runtime, caller.operator_id)
    response = RedirectResponse("/console", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
