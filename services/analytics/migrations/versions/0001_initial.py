"""analytics: daily counts, outbox, processed events

Revision ID: analytics_0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from shared.migration_ops import create_messaging_tables, drop_messaging_tables

revision = "analytics_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "daily_counts",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("day", "action", "category", "channel", "street_code"),
    )


def downgrade() -> None:
    op.drop_table("daily_counts")
    drop_messaging_tables()
