"""dispatch: closed loop (case columns), hash-chained case history, API keys

Revision ID: dispatch_0002
Revises: dispatch_0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dispatch_0002"
down_revision = "dispatch_0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cases", sa.Column("dispatched_at", _TS))
    op.add_column("cases", sa.Column("sign_deadline_at", _TS))
    op.add_column("cases", sa.Column("return_deadline_at", _TS))
    op.add_column("cases", sa.Column("deadline_limit", sa.String(40)))
    op.add_column("cases", sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"))
    op.add_column("cases", sa.Column("extension_status", sa.String(12)))
    op.add_column("cases", sa.Column("extension_days", sa.Integer))
    op.add_column("cases", sa.Column("returned_from", sa.String(20)))
    op.add_column("cases", sa.Column("suspended_from", sa.String(20)))
    op.add_column("cases", sa.Column("suspended_at", _TS))
    op.add_column("cases", sa.Column("merged_into", sa.String(26)))
    op.add_column("cases", sa.Column("survey_result", sa.String(8)))
    op.add_column("cases", sa.Column("whistle", postgresql.JSONB, nullable=False, server_default="{}"))
    op.add_column("cases", sa.Column("closed_at", _TS))
    op.add_column("cases", sa.Column("history_seq", sa.Integer, nullable=False, server_default="0"))
    op.add_column("cases", sa.Column("history_hash", sa.String(64)))
    op.create_index("ix_cases_merged_into", "cases", ["merged_into"])
    op.create_index("ix_cases_co_handlers", "cases", ["co_handlers"], postgresql_using="gin")
    op.create_table(
        "case_history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("details", postgresql.JSONB, nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_case_history_case_seq"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("department", sa.String(20), nullable=False),
        sa.Column("label", sa.String(120), nullable=False, server_default=""),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", _TS),
    )
    op.create_index("ix_api_keys_department", "api_keys", ["department"])


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("case_history")
    op.drop_index("ix_cases_co_handlers", "cases")
    op.drop_index("ix_cases_merged_into", "cases")
    for col in (
        "dispatched_at",
        "sign_deadline_at",
        "return_deadline_at",
        "deadline_limit",
        "reopen_count",
        "extension_status",
        "extension_days",
        "returned_from",
        "suspended_from",
        "suspended_at",
        "merged_into",
        "survey_result",
        "whistle",
        "closed_at",
        "history_seq",
        "history_hash",
    ):
        op.drop_column("cases", col)
