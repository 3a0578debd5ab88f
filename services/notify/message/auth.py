"""Who may read the delivery log: a dispatcher or admin key of dispatch (``X-API-Key``).

Notify keeps no accounts: it asks dispatch's ``GET /api/v1/whoami`` (``LINKAGE_DISPATCH_URL``) what a key is, and
caches each answer for ``WHOAMI_TTL_S`` (a revoked key stops working within it). Dispatch away → 503 with
``Retry-After``. The dependency runs before query parameters are validated (401/403 before 422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from shared.app import RuntimeDep
from shared.errors import Forbidden, Unauthorized
from shared.whoami import CachedWhoami, plausible_key

STAFF_ROLES = ("dispatcher", "admin")

dispatcher_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name="DispatcherKey",
    auto_error=False,
    description="A dispatcher or admin key of dispatch (`linkage keys create --role dispatcher`; demo keys in "
    "var/linkage-up.json).",
)

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no key, or an unknown or revoked one"},
    403: {"description": "a key of a role that may not read the delivery log (handlers)"},
    503: {"description": "the key could not be checked: dispatch is unavailable (Retry-After)"},
}


_identities = CachedWhoami()


async def staff(runtime: RuntimeDep, key: Annotated[str | None, Security(dispatcher_key)] = None) -> dict[str, Any]:
    """A dispatcher or admin of dispatch; 401 without a known key, 403 for other roles."""
    if not key:
        raise Unauthorized("缺少调度系统密钥：请在 X-API-Key 请求头中提供调度员或管理员密钥")
    if not plausible_key(key):
        raise Unauthorized("调度系统密钥无效或已吊销")
    who = await _identities.identity(runtime.settings, key)
    if who is None:
        raise Unauthorized("调度系统密钥无效或已吊销")
    if who.get("role") not in STAFF_ROLES:
        raise Forbidden("投递记录仅限调度员或管理员查看", role=who.get("role"))
    return who


StaffDep = Annotated[dict[str, Any], Depends(staff)]
