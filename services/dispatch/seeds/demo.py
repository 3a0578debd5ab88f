"""Demo API keys (idempotent, deterministic: ``demo-handler-CGJ``, ``demo-dispatcher-ZX``, ``demo-admin-ZX``).

Run by ``linkage up``; the returned plaintext keys land in ``var/linkage-up.json`` under
``demo.dispatch.api_keys``. Demo keys are guessable by design: never seed them in production.
"""

from __future__ import annotations

from typing import Any

from services.dispatch.auth.service import store_key
from shared.catalog import default_catalog
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings

HANDLER_KINDS = ("department", "street", "utility")


def demo_keys() -> dict[str, dict[str, str]]:
    catalog = default_catalog()
    center = catalog.center().code
    handlers = {d.code: f"demo-handler-{d.code}" for d in catalog.departments if d.kind in HANDLER_KINDS}
    return {
        "handler": handlers,
        "dispatcher": {center: f"demo-dispatcher-{center}"},
        "admin": {center: f"demo-admin-{center}"},
    }


async def seed(settings: Settings) -> dict[str, Any]:
    keys = demo_keys()
    engine = make_engine(settings, "dispatch", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            for role, by_department in keys.items():
                for department, plaintext in by_department.items():
                    await store_key(session, plaintext, role=role, department=department, label=f"demo {role}")
            await session.commit()
    finally:
        await engine.dispose()
    return {"api_keys": keys}
