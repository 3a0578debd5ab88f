"""Who may call analytics' keyed operations: a key of dispatch (``X-API-Key``), read through dispatch's
``GET /api/v1/whoami`` (analytics keeps no accounts), each answer cached for ``WHOAMI_TTL_S`` (a revoked key stops
working within it). Dispatch away → 503 with ``Retry-After``.

- :data:`StaffDep` — a dispatcher or admin (staff case export);
- :data:`ReviewerDep` — a street office's handler key (逆向评价 of the departments that served the street), or a
  dispatcher/admin acting for a street they name.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from shared.app import RuntimeDep
from shared.catalog import default_catalog
from shared.errors import DomainError, Forbidden, Unauthorized
from shared.settings import Settings
from shared.whoami import DispatchUnreachable, whoami

WHOAMI_TTL_S = 30.0
STAFF_ROLES = ("dispatcher", "admin")
MAX_KEY_CHARS = 200
_CACHE_SIZE = 1000

dispatch_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name="DispatchKey",
    auto_error=False,
    description="A key of dispatch: a street office's handler key (逆向评价) or a dispatcher/admin key "
    "(`linkage keys create`; demo keys in var/linkage-up.json).",
)


class DispatchUnavailable(DomainError):
    status_code = 503
    code = "dispatch_unavailable"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Caller:
    role: str
    department: str
    label: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def street(self) -> str | None:
        """The street office this key belongs to (a handler key of a department of kind ``street``)."""
        dept = default_catalog().get_department(self.department)
        return self.department if self.role == "handler" and dept is not None and dept.is_street else None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.department}" + (f":{self.label}" if self.label else "")


_answers: OrderedDict[str, tuple[float, dict[str, Any] | None]] = OrderedDict()


async def identity_of(settings: Settings, key: str) -> dict[str, Any] | None:
    """Dispatch's reading of ``key`` (cached), None when dispatch refuses it."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    cached = _answers.get(digest)
    if cached is not None and now - cached[0] < WHOAMI_TTL_S:
        return cached[1]
    try:
        answer = await whoami(settings, key)
    except DispatchUnreachable:
        raise DispatchUnavailable("暂时无法核验调度系统密钥（调度服务不可用），请稍后重试") from None
    _answers[digest] = (now, answer)
    _answers.move_to_end(digest)
    while len(_answers) > _CACHE_SIZE:
        _answers.popitem(last=False)
    return answer


async def caller(runtime: RuntimeDep, key: Annotated[str | None, Security(dispatch_key)] = None) -> Caller:
    """Any valid key of dispatch; 401 without one."""
    if not key:
        raise Unauthorized("缺少密钥：请在 X-API-Key 请求头中提供调度系统密钥")
    if len(key) > MAX_KEY_CHARS or not key.isascii():
        raise Unauthorized("密钥无效或已吊销")
    who = await identity_of(runtime.settings, key)
    if who is None:
        raise Unauthorized("密钥无效或已吊销")
    return Caller(role=str(who.get("role")), department=str(who.get("department")), label=str(who.get("label") or ""))


async def staff(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if not who.is_staff:
        raise Forbidden("工单导出仅限调度员或管理员", role=who.role)
    return who


async def reviewer(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if not who.is_staff and who.street is None:
        raise Forbidden("逆向评价由街道进行：请使用街道的密钥（或调度员代街道填报）", role=who.role)
    return who


StaffDep = Annotated[Caller, Depends(staff)]
ReviewerDep = Annotated[Caller, Depends(reviewer)]
