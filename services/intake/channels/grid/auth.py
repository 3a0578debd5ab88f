"""Grid worker tokens: ``<worker_id>.<HMAC-SHA256(secret, worker_id)[:32]>``; nothing to store.

A token names its worker; rotating ``LINKAGE_GRID_TOKEN_SECRET`` revokes every token at once.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader

from services.intake.places import GridRef, default_places
from shared.app import RuntimeDep
from shared.errors import Unauthorized

worker_token_header = APIKeyHeader(
    name="X-Worker-Token",
    auto_error=False,
    scheme_name="GridWorkerToken",
    description="The grid worker's token (`<worker_id>.<mac>`, see `linkage` grid worker seeding).",
)


def worker_token(secret: str, worker_id: str) -> str:
    mac = hmac.new(secret.encode(), f"grid-worker:{worker_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{worker_id}.{mac}"


def authenticate(secret: str, token: str | None) -> tuple[str, list[GridRef]]:
    """The worker id and the worker's own grids for a valid token; else 401."""
    if not token:
        raise Unauthorized("missing X-Worker-Token header", header="X-Worker-Token")
    worker_id, _, _ = token.strip().rpartition(".")
    if not worker_id or not hmac.compare_digest(worker_token(secret, worker_id), token.strip()):
        raise Unauthorized("invalid X-Worker-Token", header="X-Worker-Token")
    grids = default_places().index.grids_of_worker(worker_id)
    if not grids:
        raise Unauthorized(f"worker {worker_id} has no grid", header="X-Worker-Token")
    return worker_id, grids


async def grid_worker(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(worker_token_header)] = None
) -> tuple[str, list[GridRef]]:
    """Dependency: the authenticated worker (401 before anything in the request body is read)."""
    return authenticate(runtime.settings.grid_token_secret, token)


GridWorker = Annotated[tuple[str, list[GridRef]], Depends(grid_worker)]
