"""dispatch (sla branch): case timers, survey answers, duplicate links

Revision ID: dispatch_sla_0001
Revises: dispatch_0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "dispatch_sla_0001"
down_revision = "dispatch_0001"
branch_labels = ("sla",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_timers",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(10)),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_case_timers_case_id", "case_timers", ["case_id"])
    op.create_index("ix_case_timers_due", "case_timers", ["due_at"], postgresql_where=sa.text("fired_at IS NULL"))
    op.create_table(
        "case_surveys",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("event_id", sa.String(40), unique=True),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("comment", sa.String(1000)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_case_surveys_case_id", "case_surveys", ["case_id"])
    op.create_table(
        "case_duplicates",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("candidate_id", sa.String(26), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("text_score", sa.Float, nullable=False),
        sa.Column("distance_m", sa.Float),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("case_id", "candidate_id", name="uq_case_duplicates_pair"),
    )
    op.create_index("ix_case_duplicates_case_id", "case_duplicates", ["case_id"])
    op.create_index("ix_case_duplicates_candidate_id", "case_duplicates", ["candidate_id"])


def downgrade() -> None:
    op.drop_table("case_duplicates")
    op.drop_table("case_surveys")
    op.drop_table("case_timers")
