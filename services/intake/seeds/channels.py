"""Demo credentials for the WeChat, app and grid channels (written into ``var/linkage-up.json``)."""

from __future__ import annotations

from typing import Any

from services.intake.channels.grid.auth import worker_token
from services.intake.places import default_places
from shared.settings import Settings

DEMO_WORKERS = 5


def demo_workers(settings: Settings, count: int = DEMO_WORKERS) -> list[dict[str, Any]]:
    """The first ``count`` grid workers of the demo map, with their tokens and grids."""
    index = default_places().index
    seen: dict[str, dict[str, Any]] = {}
    for grid in index.grids():
        for worker in grid.workers:
            if worker.id not in seen and len(seen) < count:
                grids = index.grids_of_worker(worker.id)
                seen[worker.id] = {
                    "worker_id": worker.id,
                    "name": worker.name,
                    "token": worker_token(settings.grid_token_secret, worker.id),
                    "grids": [g.grid_code for g in grids],
                    "grid_names": [g.grid_name for g in grids],
                }
    return list(seen.values())


async def seed(settings: Settings) -> dict[str, Any]:
    return {
        "wechat": {
            "callback_path": "/wechat/callback",
            "token": settings.wechat_token,
            "aes_key": settings.wechat_aes_key,
            "appid": settings.wechat_appid,
        },
        "app": {
            "path": "/api/v1/app/complaints",
            "max_photos": settings.upload_max_photos,
            "max_photo_bytes": settings.upload_max_photo_bytes,
        },
        "grid_workers": demo_workers(settings),
    }
