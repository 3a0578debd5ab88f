"""analytics: 未诉先办 hot-spot alerts and the patrol tasks opened for them

Revision ID: analytics_hotspots_0001
Revises: analytics_0001
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "analytics_hotspots_0001"
down_revision = "analytics_0001"
branch_labels = ("hotspots",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotspot_alerts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("window_end", sa.Date, nullable=False),
        sa.Column("recent_count", sa.Integer, nullable=False),
        sa.Column("baseline_daily", sa.Float, nullable=False),
        sa.Column("baseline_days", sa.Integer, nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hotspot_alerts_grid_category", "hotspot_alerts", ["grid_code", "category", "window_end"])
    op.create_index("ix_hotspot_alerts_window_end", "hotspot_alerts", ["window_end"])
    op.create_table(
        "patrol_task_status",
        sa.Column("task_id", sa.String(26), primary_key=True),
        sa.Column("hotspot_id", sa.String(64), nullable=False),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(16), nullable=True),
    )
    op.create_index("ix_patrol_task_status_hotspot_id", "patrol_task_status", ["hotspot_id"])
    op.create_index("ix_patrol_task_status_opened_at", "patrol_task_status", ["opened_at"])
    op.create_index("ix_patrol_task_status_done_at", "patrol_task_status", ["done_at"])


def downgrade() -> None:
    op.drop_table("patrol_task_status")
    op.drop_table("hotspot_alerts")
