"""analytics: per-grid daily counts, case status, ticker (command-center display, open data)

Revision ID: analytics_0002
Revises: analytics_0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "analytics_0002"
down_revision = "analytics_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_daily_counts",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("day", "grid_code", "category"),
    )
    op.create_table(
        "case_status",
        sa.Column("case_id", sa.String(26), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("lead", sa.String(20)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True)),
        sa.Column("dispatched_at", sa.DateTime(timezone=True)),
        sa.Column("signed_at", sa.DateTime(timezone=True)),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
        sa.Column("replied_on_time", sa.Boolean),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("warn_level", sa.String(12)),
        sa.Column("urged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("supervised", sa.Integer, nullable=False, server_default="0"),
        sa.Column("publicized", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_action", sa.String(30), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_status_open_deadline", "case_status", ["is_open", "deadline_at"])
    op.create_index("ix_case_status_received", "case_status", ["received_at"])
    op.create_table(
        "ticker_events",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("lead", sa.String(20)),
        sa.Column("tracking_code", sa.String(20), nullable=False),
    )
    op.create_index("ix_ticker_events_at", "ticker_events", ["at"])


def downgrade() -> None:
    op.drop_table("ticker_events")
    op.drop_index("ix_case_status_received", table_name="case_status")
    op.drop_index("ix_case_status_open_deadline", table_name="case_status")
    op.drop_table("case_status")
    op.drop_table("grid_daily_counts")
