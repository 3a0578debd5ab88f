"""Demo hotline accounts: ``demo`` (operator) and ``demo-lead`` (supervisor), fresh password and key each run.

The plaintext credentials land in ``var/linkage-up.json`` under ``demo.intake.operators`` and, beside the
dispatch roles' keys, ``demo.intake.api_keys.operator`` / ``.supervisor``. Only hashes are stored.
"""

from __future__ import annotations

import secrets
from typing import Any

from services.intake.operators import service
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings

DEMO_ACCOUNTS = (("demo", "operator", "演示话务员"), ("demo-lead", "supervisor", "演示班长"))


async def seed(settings: Settings) -> dict[str, Any]:
    accounts: list[dict[str, str]] = []
    engine = make_engine(settings, "intake", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            for username, role, display_name in DEMO_ACCOUNTS:
                password, key = secrets.token_urlsafe(9), service.new_api_key()
                await service.upsert(
                    session, username=username, role=role, display_name=display_name, password=password, api_key=key
                )
                accounts.append({"username": username, "role": role, "password": password, "api_key": key})
            await session.commit()
    finally:
        await engine.dispose()
    return {
        "operators": accounts,
        "console": {"path": "/console", "username": accounts[0]["username"], "password": accounts[0]["password"]},
        "api_keys": {a["role"]: {a["username"]: a["api_key"]} for a in accounts},
    }
