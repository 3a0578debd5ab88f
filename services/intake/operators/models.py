"""The ``operators`` table: hotline operators and their supervisors (班长)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

ROLES = ("operator", "supervisor")


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(12), default="operator")
    password_hash: Mapped[str | None] = mapped_column(String(200))  # scrypt, salted; None: API key only
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # sha256 of the key
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # console sessions issued before this moment are refused (logout, password change, disabling)
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
