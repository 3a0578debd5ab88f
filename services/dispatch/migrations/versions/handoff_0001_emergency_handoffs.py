"""dispatch (handoff branch): emergency hand-offs to 110/119/120/122 and the development sink

Revision ID: dispatch_handoff_0001
Revises: dispatch_0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "dispatch_handoff_0001"
down_revision = "dispatch_0001"
branch_labels = ("handoff",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("case_id", sa.String(26), nullable=False, unique=True),
        sa.Column("tracking_code", sa.String(20), nullable=False),
        sa.Column("service", sa.String(4), nullable=False),
        sa.Column("reason", sa.String(500)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("adapter", sa.String(16)),
        sa.Column("alert_level", sa.Integer, server_default="1", nullable=False),
        sa.Column("escalations", sa.Integer, server_default="0", nullable=False),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("receipt_id", sa.String(100)),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledged_by", sa.String(120)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index(
        "ix_handoffs_unacknowledged", "handoffs", ["ack_due_at"], postgresql_where=sa.text("acknowledged_at IS NULL")
    )
    op.create_index("ix_handoffs_due", "handoffs", ["next_attempt_at"], postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        "handoff_sink",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("handoff_id", sa.String(26), nullable=False),
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("service", sa.String(4), nullable=False),
        sa.Column("receipt_id", sa.String(40), nullable=False),
        sa.Column("document", postgresql.JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_handoff_sink_handoff_id", "handoff_sink", ["handoff_id"])
    op.create_index(
        "ix_handoff_sink_pending", "handoff_sink", ["ack_at"], postgresql_where=sa.text("acknowledged_at IS NULL")
    )


def downgrade() -> None:
    op.drop_table("handoff_sink")
    op.drop_table("handoffs")
