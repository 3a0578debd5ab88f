"""Operator accounts as plain functions: password and key hashing, create, authenticate, revoke sessions.

Passwords: ``scrypt$n$r$p$<salt>$<hash>`` (hashlib.scrypt, 16-byte random salt). API keys: ``lko_`` + 32
random bytes, stored as sha256 (a key has 256 bits, so an unsalted fast hash is enough, as in dispatch).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.operators.models import ROLES, Operator

SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
KEY_PREFIX = "lko_"


class OperatorExists(ValueError):
    pass


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a stored ``scrypt$…`` hash; False for anything malformed."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def check_account(username: str, role: str, password: str | None) -> None:
    if not USERNAME.match(username):
        raise ValueError("username: 2–64 characters, lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")


async def get_by_username(session: AsyncSession, username: str) -> Operator | None:
    return (await session.execute(select(Operator).where(Operator.username == username))).scalar_one_or_none()


async def get_by_key(session: AsyncSession, plaintext: str) -> Operator | None:
    stmt = select(Operator).where(Operator.api_key_hash == hash_key(plaintext))
    return (await session.execute(stmt)).scalar_one_or_none()


async def create(
    session: AsyncSession,
    *,
    username: str,
    role: str = "operator",
    display_name: str = "",
    password: str | None = None,
    api_key: str | None = None,
) -> tuple[Operator, str]:
    """Add an account (flushes); returns it and its API key (``api_key`` or a new random one)."""
    check_account(username, role, password)
    if await get_by_username(session, username) is not None:
        raise OperatorExists(f"operator {username!r} already exists")
    key = api_key or new_api_key()
    operator = Operator(
        username=username,
        role=role,
        display_name=display_name or username,
        disabled=False,
        password_hash=hash_password(password) if password else None,
        api_key_hash=hash_key(key),
    )
    session.add(operator)
    await session.flush()
    return operator, key


async def upsert(
    session: AsyncSession, *, username: str, role: str, display_name: str, password: str, api_key: str
) -> Operator:
    """Create or reset an account to exactly these credentials (the demo seed; flushes)."""
    check_account(username, role, password)
    operator = await get_by_username(session, username)
    if operator is None:
        operator, _ = await create(
            session, username=username, role=role, display_name=display_name, password=password, api_key=api_key
        )
        return operator
    operator.role, operator.display_name, operator.disabled = role, display_name, False
    operator.password_hash, operator.api_key_hash = hash_password(password), hash_key(api_key)
    operator.sessions_revoked_at = datetime.now(UTC)
    await session.flush()
    return operator


async def rotate_key(session: AsyncSession, username: str) -> str:
    """A new API key for the account (the old one stops working); flushes."""
    operator = await _existing(session, username)
    key = new_api_key()
    operator.api_key_hash = hash_key(key)
    await session.flush()
    return key


async def set_disabled(session: AsyncSession, username: str, disabled: bool) -> Operator:
    operator = await _existing(session, username)
    operator.disabled = disabled
    operator.sessions_revoked_at = datetime.now(UTC)
    await session.flush()
    return operator


async def revoke_sessions(session: AsyncSession, operator_id: int, at: datetime | None = None) -> None:
    """退出登录: every console session of the account issued before ``at`` (default now) stops working."""
    await session.execute(
        update(Operator).where(Operator.id == operator_id).values(sessions_revoked_at=at or datetime.now(UTC))
    )


async def list_all(session: AsyncSession) -> list[Operator]:
    return list((await session.execute(select(Operator).order_by(Operator.username))).scalars())


async def _existing(session: AsyncSession, username: str) -> Operator:
    operator = await get_by_username(session, username)
    if operator is None:
        raise LookupError(f"no operator {username!r}")
    return operator
