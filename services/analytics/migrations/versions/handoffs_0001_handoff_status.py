"""analytics: emergency hand-offs awaiting acknowledgement (the display's red alert)

Revision ID: analytics_handoffs_0001
Revises: analytics_0001
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "analytics_handoffs_0001"
down_revision = "analytics_0001"
branch_labels = ("handoffs",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff_status",
        sa.Column("case_id", sa.String(26), primary_key=True),
        sa.Column("handoff_id", sa.String(26), nullable=True),
        sa.Column("tracking_code", sa.String(40), nullable=False),
        sa.Column("service", sa.String(8), nullable=False),
        sa.Column("category", sa.String(4), nullable=True),
        sa.Column("matter_code", sa.String(16), nullable=True),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("alert_level", sa.Integer, nullable=False),
        sa.Column("escalations", sa.Integer, nullable=False),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_handoff_status_acknowledged_transferred", "handoff_status", ["acknowledged_at", "transferred_at"]
    )


def downgrade() -> None:
    op.drop_table("handoff_status")
