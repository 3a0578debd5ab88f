"""intake: complaints, outbox, processed events

Revision ID: intake_0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migration_ops import create_messaging_tables, drop_messaging_tables

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tracking_code", sa.String(20), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_key", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("address", sa.String(300)),
        sa.Column("address_status", sa.String(12), nullable=False),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("location_source", sa.String(20)),
        sa.Column("street_code", sa.String(20)),
        sa.Column("community_code", sa.String(20)),
        sa.Column("grid_code", sa.String(20)),
        sa.Column("place", postgresql.JSONB),
        sa.Column("reporter_phone", sa.String(32)),
        sa.Column("reporter", postgresql.JSONB, nullable=False),
        sa.Column("attachments", postgresql.JSONB, nullable=False),
        sa.Column("suggestions", postgresql.JSONB, nullable=False),
        sa.Column("matter_code", sa.String(16)),
        sa.Column("category", sa.String(4)),
        sa.Column("emergency", postgresql.JSONB),
        sa.Column("solved_on_spot", sa.Boolean, nullable=False),
        sa.Column("outside_own_grid", sa.Boolean, nullable=False),
        sa.Column("operator_id", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("channel", "channel_key", name="uq_complaints_channel_key"),
    )
    op.create_index("ix_complaints_reporter_phone", "complaints", ["reporter_phone"])
    op.create_index("ix_complaints_received_at", "complaints", ["received_at"])
    op.create_index("ix_complaints_category_grid", "complaints", ["category", "grid_code", "received_at"])


def downgrade() -> None:
    op.drop_table("complaints")
    drop_messaging_tables()
