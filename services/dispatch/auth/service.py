"""API key checks: ``X-API-Key`` → (role, department). Keys are stored as sha256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.auth.models import ROLES, ApiKey
from shared.app import SessionDep
from shared.catalog import default_catalog
from shared.db import make_engine, make_sessionmaker
from shared.errors import Forbidden, Unauthorized
from shared.settings import Settings


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    role: str
    department: str
    label: str

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.department}" + (f":{self.label}" if self.label else "")


def check_role_department(role: str, department: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if default_catalog().get_department(department) is None:
        raise ValueError(f"unknown department {department!r}")


async def store_key(session: AsyncSession, plaintext: str, *, role: str, department: str, label: str = "") -> None:
    """Store a key's hash (idempotent: the same key again is ignored)."""
    check_role_department(role, department)
    await session.execute(
        insert(ApiKey)
        .values(key_hash=hash_key(plaintext), role=role, department=department, label=label)
        .on_conflict_do_nothing(index_elements=["key_hash"])
    )


async def create_key(settings: Settings, *, role: str, department: str, label: str = "") -> str:
    check_role_department(role, department)
    plaintext = f"lk_{role[0]}_{department}_{secrets.token_urlsafe(24)}"
    engine = make_engine(settings, "dispatch", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            await store_key(session, plaintext, role=role, department=department, label=label)
            await session.commit()
    finally:
        await engine.dispose()
    return plaintext


api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="DispatchApiKey",
    description="A department handler, dispatcher or admin key (`linkage keys create`).",
)


async def principal(session: SessionDep, x_api_key: Annotated[str | None, Depends(api_key_header)] = None) -> Principal:
    if not x_api_key:
        raise Unauthorized("missing API key: send it in the X-API-Key header")
    row = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(x_api_key), ApiKey.revoked_at.is_(None)))
    ).scalar_one_or_none()
    if row is None:
        raise Unauthorized("unknown or revoked API key")
    return Principal(role=row.role, department=row.department, label=row.label)


async def handler_principal(p: Annotated[Principal, Depends(principal)]) -> Principal:
    if p.role != "handler":
        raise Forbidden("this endpoint is for department handler keys", role=p.role)
    return p


async def dispatcher_principal(p: Annotated[Principal, Depends(principal)]) -> Principal:
    if p.role not in ("dispatcher", "admin"):
        raise Forbidden("this endpoint is for dispatcher keys", role=p.role)
    return p


HandlerDep = Annotated[Principal, Depends(handler_principal)]
DispatcherDep = Annotated[Principal, Depends(dispatcher_principal)]
