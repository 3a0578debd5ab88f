"""Who may read the delivery log: a dispatcher or admin key of dispatch (``X-API-Key``).

Notify keeps no accounts: it asks dispatch's ``GET /api/v1/whoami`` (``LINKAGE_DISPATCH_URL``) what a key is, and
caches each answer for ``WHOAMI_TTL_S`` (a revoked key stops working within it). Dispatch away → 503 with
``Retry-After``. The dependency runs before query parameters are validated (401/403 before 422).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from shared.app import RuntimeDep
from shared.errors import DomainError, Forbidden, Unauthorized
from shared.logging import get_logger
from shared.settings import Settings
from shared.whoami import DispatchUnreachable, whoami

log = get_logger(__name__)

WHOAMI_TTL_S = 30.0
STAFF_ROLES = ("dispatcher", "admin")
MAX_KEY_CHARS = 200
_CACHE_SIZE = 1000

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


class DispatchUnavailable(DomainError):
    status_code = 503
    code = "dispatch_unavailable"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


_answers: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()


async def _whoami(settings: Settings, key: str) -> dict[str, Any] | None:
    """Dispatch's reading of ``key`` (``{"role", "department", …}``), None when dispatch refuses it."""
    try:
        return await whoami(settings, key)
    except DispatchUnreachable:
        raise DispatchUnavailable("暂时无法核验调度系统密钥（调度服务不可用），请稍后重试") from None


async def identity_of(settings: Settings, key: str) -> dict[str, Any] | None:
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    cached = _answers.get(digest)
    if cached is not None and now - cached[0] < WHOAMI_TTL_S:
        return cached[1]
    answer = await _whoami(settings, key)
    _answers[digest] = (now, answer)
    _answers.move_to_end(digest)
    while len(_answers) > _CACHE_SIZE:
        _answers.popitem(last=False)
    return answer


async def staff(runtime: RuntimeDep, key: Annotated[str | None, Security(dispatcher_key)] = None) -> dict[str, Any]:
    """A dispatcher or admin of dispatch; 401 without a known key, 403 for other roles."""
    if not key:
        raise Unauthorized("缺少调度系统密钥：请在 X-API-Key 请求头中提供调度员或管理员密钥")
    if len(key) > MAX_KEY_CHARS or not key.isascii():
        raise Unauthorized("调度系统密钥无效或已吊销")
    who = await identity_of(runtime.settings, key)
    if who is None:
        raise Unauthorized("调度系统密钥无效或已吊销")
    if who.get("role") not in STAFF_ROLES:
        raise Forbidden("投递记录仅限调度员或管理员查看", role=who.get("role"))
    return who


StaffDep = Annotated[dict[str, Any], Depends(staff)]
