"""dispatch: cases, outbox, processed events

Revision ID: dispatch_0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migration_ops import create_messaging_tables, drop_messaging_tables

revision = "dispatch_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "cases",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tracking_code", sa.String(20), nullable=False, unique=True),
        sa.Column("complaint_id", sa.String(26), nullable=False, unique=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("address", sa.String(300)),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("street_code", sa.String(20)),
        sa.Column("community_code", sa.String(20)),
        sa.Column("grid_code", sa.String(20)),
        sa.Column("category", sa.String(4)),
        sa.Column("matter_code", sa.String(16)),
        sa.Column("lead", sa.String(20)),
        sa.Column("co_handlers", postgresql.JSONB, nullable=False),
        sa.Column("reporter", postgresql.JSONB, nullable=False),
        sa.Column("emergency", postgresql.JSONB),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True)),
        sa.Column("deadline_provisional", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index("ix_cases_lead", "cases", ["lead"])
    op.create_index("ix_cases_category_grid", "cases", ["category", "grid_code", "created_at"])


def downgrade() -> None:
    op.drop_table("cases")
    drop_messaging_tables()
