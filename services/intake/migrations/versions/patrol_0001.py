"""intake: 未诉先办 patrol tasks for grid workers

Revision ID: intake_patrol_0001
Revises: intake_0001
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "intake_patrol_0001"
down_revision = "intake_0001"
branch_labels = ("patrol",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patrol_tasks",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("hotspot_id", sa.String(64), nullable=False, unique=True),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("street_code", sa.String(20), nullable=True),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("window_end", sa.Date, nullable=False),
        sa.Column("recent_count", sa.Integer, nullable=False),
        sa.Column("baseline_daily", sa.Float, nullable=False),
        sa.Column("baseline_days", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("photos", postgresql.JSONB, nullable=False),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_patrol_tasks_grid_status", "patrol_tasks", ["grid_code", "status"])


def downgrade() -> None:
    op.drop_table("patrol_tasks")
