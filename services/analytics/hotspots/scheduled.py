"""Background job of analytics: look for hot spots every ``LINKAGE_HOTSPOT_SCAN_INTERVAL_S`` (default 60 s).

Each pass is one short transaction (alerts and their outbox events together); any number of replicas may run it
(an alert's id makes a second raise of the same hot spot a no-op)."""

from __future__ import annotations

import asyncio

from services.analytics.hotspots.config import hotspot_settings
from services.analytics.hotspots.service import scan
from shared.app import ServiceRuntime
from shared.logging import get_logger
from shared.metrics import mark_success

log = get_logger(__name__)


async def scan_once(runtime: ServiceRuntime) -> int:
    async with runtime.sessionmaker() as session:
        raised = await scan(session)
        await session.commit()
    if raised:
        runtime.relay.wake()
        log.info("hot spots raised", count=len(raised), ids=[a.id for a in raised][:20])
    return len(raised)


async def run_hotspot_scanner(runtime: ServiceRuntime) -> None:
    cfg = hotspot_settings()
    if not cfg.enabled:
        log.info("hot-spot scanner disabled (LINKAGE_HOTSPOT_ENABLED=false)")
        await asyncio.Event().wait()  # stay alive: a finished background task reads as a dead one in /readyz
    log.info("hot-spot scanner started", interval_s=cfg.scan_interval_s, recent_days=cfg.recent_days)
    while True:
        try:
            await scan_once(runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. the database restarting: the next pass tries again
            log.warning("hot-spot scan failed; retrying", error=repr(exc))
        else:
            mark_success(runtime.name, "run_hotspot_scanner")
        await asyncio.sleep(cfg.scan_interval_s)
