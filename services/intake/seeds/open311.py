"""Demo Open311 access: the accepted api keys and where the endpoint lives (lands in var/linkage-up.json)."""

from __future__ import annotations

from typing import Any

from shared.settings import Settings


async def seed(settings: Settings) -> dict[str, Any]:
    return {
        "open311": {
            "endpoint": "/open311/v2",
            "api_keys": sorted(settings.open311_keys),
            "jurisdiction_id": settings.open311_jurisdiction,
            "discovery": "/open311/v2/discovery.json",
        }
    }
