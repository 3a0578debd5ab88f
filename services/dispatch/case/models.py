"""A case (工单): one complaint being handled through the closed loop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import (
    text as sql_text,  # `text` is also a column of Case
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    complaint_id: Mapped[str] = mapped_column(String(26), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(4))
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    street_code: Mapped[str | None] = mapped_column(String(20))
    community_code: Mapped[str | None] = mapped_column(String(20))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(4))
    matter_code: Mapped[str | None] = mapped_column(String(16))
    lead: Mapped[str | None] = mapped_column(String(20), index=True)
    co_handlers: Mapped[list[str]] = mapped_column(JSONB, default=list)
    reporter: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    emergency: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # dispatch_0002: the closed loop
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sign_deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_limit: Mapped[str | None] = mapped_column(String(40))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    extension_status: Mapped[str | None] = mapped_column(String(12))
    extension_days: Mapped[int | None] = mapped_column(Integer)
    returned_from: Mapped[str | None] = mapped_column(String(20))
    suspended_from: Mapped[str | None] = mapped_column(String(20))
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(String(26), index=True)
    survey_result: Mapped[str | None] = mapped_column(String(8))
    whistle: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    history_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    history_hash: Mapped[str | None] = mapped_column(String(64))
    # audit_0001: history length last checkpointed outside the database (written by the checkpoint job only)
    audit_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_cases_category_grid", "category", "grid_code", "created_at"),
        Index("ix_cases_co_handlers", "co_handlers", postgresql_using="gin"),  # dispatch_0002: co-handler lists
        Index("ix_cases_audit_pending", "id", postgresql_where=sql_text("audit_seq <> history_seq")),  # audit_0001
    )
    __mapper_args__ = {"version_id_col": version}  # optimistic concurrency: a stale write raises


class CaseHistory(Base):
    """One entry of a case's append-only, hash-chained history (never updated, never deleted).

    ``hash = HMAC-SHA256(audit key[key_id], prev_hash + canonical JSON of the entry)``; rows from before
    keying have ``key_id`` NULL and ``hash = sha256(...)``. ``linkage audit verify`` recomputes both.
    """

    __tablename__ = "case_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(26))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))  # dispatch_audit_0001; NULL: legacy unkeyed hash

    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_history_case_seq"),)
