"""Who may call analytics' keyed operations: a key of dispatch (``X-API-Key``), read through dispatch's
``GET /api/v1/whoami`` (analytics keeps no accounts), each answer cached for ``WHOAMI_TTL_S`` (a revoked key stops
working within it). Dispatch away → 503 with ``Retry-After``.

- :data:`StaffDep` — a dispatcher or admin (staff case export);
- :data:`ReviewerDep` — a street office's handler key (逆向评价 of the departments that served the street), or a
  dispatcher/admin acting for a street they name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader

from shared.app import RuntimeDep
from shared.catalog import default_catalog
from shared.errors import Forbidden, Unauthorized
from shared.whoami import CachedWhoami, plausible_key

STAFF_ROLES = ("dispatcher", "admin")

dispatch_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name="DispatchKey",
    auto_error=False,
    description="A key of dispatch: a street office's handler key (逆向评价) or a dispatcher/admin key "
    "(`linkage keys create`; demo keys in var/linkage-up.json).",
)


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


_identities = CachedWhoami()


async def caller(runtime: RuntimeDep, key: Annotated[str | None, Security(dispatch_key)] = None) -> Caller:
    """Any valid key of dispatch; 401 without one."""
    if not key:
        raise Unauthorized("缺少密钥：请在 X-API-Key 请求头中提供调度系统密钥")
    if not plausible_key(key):
        raise Unauthorized("密钥无效或已吊销")
    who = await _identities.identity(runtime.settings, key)
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
