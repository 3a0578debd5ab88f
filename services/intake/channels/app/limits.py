"""Per-path body limits for intake: uploads may be larger than the service-wide limit, WeChat smaller.

``create_service_app`` installs one :class:`shared.app.BodySizeLimit` for the whole service; intake
swaps it for :class:`PathBodySizeLimit`, which applies the same refusal (413 before parsing) with a
limit chosen by path prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.app import BodySizeLimit
from shared.settings import Settings


class PathBodySizeLimit:
    def __init__(self, app: ASGIApp, default: int, prefixes: Mapping[str, int]) -> None:
        self.default = BodySizeLimit(app, default)
        # longest prefix first
        self.limits = [(p, BodySizeLimit(app, n)) for p, n in sorted(prefixes.items(), key=lambda kv: -len(kv[0]))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        for prefix, limiter in self.limits:
            if path.startswith(prefix):
                await limiter(scope, receive, send)
                return
        await self.default(scope, receive, send)


def channel_body_limits(settings: Settings) -> dict[str, int]:
    return {
        "/api/v1/app/": settings.upload_max_body_bytes,
        "/api/v1/grid/": settings.upload_max_body_bytes,
        "/wechat/": settings.wechat_max_body_bytes,
    }


def install_path_body_limits(app: FastAPI, settings: Settings) -> None:
    """Replace the app's :class:`BodySizeLimit` (must run before the app serves its first request)."""
    limits = channel_body_limits(settings)
    for i, mw in enumerate(app.user_middleware):
        if mw.cls is BodySizeLimit:
            app.user_middleware[i] = Middleware(PathBodySizeLimit, default=settings.max_body_bytes, prefixes=limits)
            return
    app.add_middleware(PathBodySizeLimit, default=settings.max_body_bytes, prefixes=limits)
