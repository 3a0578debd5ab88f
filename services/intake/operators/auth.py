"""Who may call the hotline API: FastAPI dependencies declared as OpenAPI security schemes.

* ``OperatorDep``: an operator credential — the console session cookie or an operator ``X-API-Key``.
* ``StaffDep``: an operator credential, or a dispatcher/admin key of dispatch (checked with dispatch's
  ``GET /api/v1/whoami``; answers are cached for ``WHOAMI_TTL_S``; dispatch away → 503).
* ``SupervisorDep``: an operator credential of a 班长 (role ``supervisor``).

Accounts are read in a short session of their own (never the request's), and cached for
``ACCOUNT_TTL_S`` so a burst of tickets costs one lookup; disabling an account takes effect within it.
These dependencies run before the request's body and parameters are validated (401/403 before 422).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Security
from fastapi.security import APIKeyCookie, APIKeyHeader
from sqlalchemy import select

from services.intake.operators.models import Operator
from services.intake.operators.service import hash_key
from services.intake.operators.sessions import COOKIE_NAME, read_session
from shared.app import RuntimeDep, ServiceRuntime
from shared.errors import DomainError, Forbidden, Unauthorized
from shared.whoami import DispatchUnreachable, whoami

ACCOUNT_TTL_S = 5.0
WHOAMI_TTL_S = 30.0
DISPATCH_ROLES = ("dispatcher", "admin")
MAX_KEY_CHARS = 200

operator_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name="OperatorKey",
    auto_error=False,
    description="话务员 API key (`linkage operators create`; demo: `demo.intake.operators.demo.api_key` in "
    "var/linkage-up.json).",
)
dispatcher_key = APIKeyHeader(
    name="X-API-Key",
    scheme_name="DispatcherKey",
    auto_error=False,
    description="A dispatcher or admin key of dispatch (`linkage keys create --role dispatcher`), for the "
    "read-only endpoints that allow it.",
)
console_session = APIKeyCookie(
    name=COOKIE_NAME,
    scheme_name="ConsoleSession",
    auto_error=False,
    description="The signed session cookie set by `POST /console/login`.",
)

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "no credential, or an unknown, disabled or expired one"},
    403: {"description": "a valid credential of a role that may not call this endpoint"},
}
STAFF_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    503: {"description": "a dispatcher key could not be checked: dispatch is unavailable (Retry-After)"},
}


class DispatchUnavailable(DomainError):
    status_code = 503
    code = "dispatch_unavailable"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Caller:
    """Who is calling: an operator account (by key or console session) or a dispatch key."""

    role: str  # operator | supervisor | dispatcher | admin
    name: str  # operator username, or the dispatch key's actor
    operator_id: int | None = None
    display_name: str = ""
    department: str | None = None
    via: str = "key"  # key | session

    @property
    def is_operator(self) -> bool:
        return self.operator_id is not None


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    sessions_revoked_at: datetime | None

    def caller(self, via: str) -> Caller:
        return Caller(role=self.role, name=self.username, operator_id=self.id, display_name=self.display_name, via=via)


V = TypeVar("V")


class TtlCache(Generic[V]):
    """A small in-process cache: entries live ``ttl_s`` seconds, the oldest are evicted past ``size``."""

    def __init__(self, ttl_s: float, size: int = 10_000) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, V | None]:
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            self._items.pop(key, None)
            return False, None
        return True, hit[1]

    def put(self, key: str, value: V) -> None:
        self._items.pop(key, None)
        self._items[key] = (time.monotonic() + self.ttl_s, value)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


def _caches(runtime: ServiceRuntime) -> tuple[TtlCache[Account | None], TtlCache[dict[str, Any] | None]]:
    caches = runtime.extras.get("auth_caches")
    if caches is None:
        caches = runtime.extras["auth_caches"] = (
            TtlCache[Account | None](ACCOUNT_TTL_S),
            TtlCache[dict[str, Any] | None](WHOAMI_TTL_S),
        )
    return caches


async def _account(
    runtime: ServiceRuntime, *, key_hash: str | None = None, operator_id: int | None = None
) -> Account | None:
    cache, _ = _caches(runtime)
    cache_key = f"k:{key_hash}" if key_hash else f"i:{operator_id}"
    found, account = cache.get(cache_key)
    if found:
        return account
    stmt = select(Operator).where(Operator.api_key_hash == key_hash if key_hash else Operator.id == operator_id)
    async with runtime.sessionmaker() as session:  # a short session of its own
        row = (await session.execute(stmt)).scalar_one_or_none()
    account = (
        None
        if row is None
        else Account(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            disabled=row.disabled,
            sessions_revoked_at=row.sessions_revoked_at,
        )
    )
    cache.put(cache_key, account)
    return account


async def _dispatch_identity(runtime: ServiceRuntime, key: str) -> dict[str, Any] | None:
    """Dispatch's reading of a key (cached); raises DispatchUnreachable."""
    _, cache = _caches(runtime)
    cache_key = hashlib.sha256(key.encode()).hexdigest()
    found, identity = cache.get(cache_key)
    if found:
        return identity
    identity = await whoami(runtime.settings, key)
    cache.put(cache_key, identity)
    return identity


def _plausible_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_CHARS and key.isascii() and key.isprintable()


async def _operator_by_key(runtime: ServiceRuntime, key: str) -> Caller | None:
    if not _plausible_key(key):
        raise Unauthorized("API 密钥无效", header="X-API-Key")
    account = await _account(runtime, key_hash=hash_key(key))
    if account is None:
        return None
    if account.disabled:
        raise Unauthorized("该话务员账号已停用", header="X-API-Key")
    return account.caller("key")


async def _operator_by_session(runtime: ServiceRuntime, cookie: str) -> Caller:
    session = read_session(runtime.settings.session_secret, cookie)
    account = await _account(runtime, operator_id=session.operator_id) if session else None
    if (
        session is None
        or account is None
        or account.disabled
        or (account.sessions_revoked_at is not None and session.issued_at <= account.sessions_revoked_at)
    ):
        raise Unauthorized("登录已失效，请重新登录受理台", login="/console")
    return account.caller("session")


async def console_caller(runtime: ServiceRuntime, cookie: str | None) -> Caller | None:
    """The operator a console session cookie belongs to, or None (no cookie, expired, revoked, disabled)."""
    if not cookie:
        return None
    try:
        return await _operator_by_session(runtime, cookie)
    except Unauthorized:
        return None


async def find_account(runtime: ServiceRuntime, username: str) -> tuple[Account, str | None] | None:
    """An account and its password hash, read in a short session of its own (console login)."""
    async with runtime.sessionmaker() as session:
        row = (await session.execute(select(Operator).where(Operator.username == username))).scalar_one_or_none()
    if row is None:
        return None
    account = Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        disabled=row.disabled,
        sessions_revoked_at=row.sessions_revoked_at,
    )
    return account, row.password_hash


def forget_account(runtime: ServiceRuntime, operator_id: int) -> None:
    """Drop a cached account after logout (other replicas notice within ``ACCOUNT_TTL_S``)."""
    _caches(runtime)[0].drop(f"i:{operator_id}")


def _missing() -> Unauthorized:
    return Unauthorized(
        "需要话务员凭据：请登录受理台（/console），或在 X-API-Key 请求头中提供话务员密钥",
        header="X-API-Key",
        login="/console",
    )


async def operator_caller(
    runtime: RuntimeDep,
    key: Annotated[str | None, Security(operator_key)] = None,
    cookie: Annotated[str | None, Security(console_session)] = None,
) -> Caller:
    """An operator or supervisor: an ``X-API-Key`` of an operator account, else the console session cookie."""
    if key:
        caller = await _operator_by_key(runtime, key)
        if caller is not None:
            return caller
        try:  # a dispatch key is a valid credential of the wrong kind: 403, not 401
            identity = await _dispatch_identity(runtime, key)
        except DispatchUnreachable:
            identity = None
        if identity is not None:
            raise Forbidden(
                "该密钥属于调度系统，不能用于热线受理接口，请使用话务员密钥", role=str(identity.get("role"))
            )
        raise Unauthorized("API 密钥无效或已停用", header="X-API-Key")
    if cookie:
        return await _operator_by_session(runtime, cookie)
    raise _missing()


async def staff_caller(
    runtime: RuntimeDep,
    key: Annotated[str | None, Security(operator_key)] = None,
    cookie: Annotated[str | None, Security(console_session)] = None,
    _dispatch: Annotated[str | None, Security(dispatcher_key)] = None,
) -> Caller:
    """An operator credential, or a dispatcher/admin key of dispatch (a handler key is refused with 403)."""
    if key:
        caller = await _operator_by_key(runtime, key)
        if caller is not None:
            return caller
        try:
            identity = await _dispatch_identity(runtime, key)
        except DispatchUnreachable:
            raise DispatchUnavailable("暂时无法核验调度系统密钥（调度服务不可用），请稍后重试") from None
        if identity is None:
            raise Unauthorized("API 密钥无效或已停用", header="X-API-Key")
        role = str(identity.get("role") or "")
        if role not in DISPATCH_ROLES:
            raise Forbidden("该密钥无权查看市民个人信息（需要话务员、调度员或管理员）", role=role)
        department = str(identity.get("department") or "")
        label = str(identity.get("label") or "")
        return Caller(role=role, name=f"{role}:{department}" + (f":{label}" if label else ""), department=department)
    if cookie:
        return await _operator_by_session(runtime, cookie)
    raise _missing()


async def supervisor_caller(caller: Annotated[Caller, Depends(operator_caller)]) -> Caller:
    if caller.role != "supervisor":
        raise Forbidden("仅班长（supervisor）可以执行此操作", role=caller.role)
    return caller


OperatorDep = Annotated[Caller, Depends(operator_caller)]
StaffDep = Annotated[Caller, Depends(staff_caller)]
SupervisorDep = Annotated[Caller, Depends(supervisor_caller)]
