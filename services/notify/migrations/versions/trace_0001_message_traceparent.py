"""notify: messages remember the trace of the case event they came from (the delivery job continues it)

Revision ID: notify_trace_0001
Revises: notify_0001
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_trace_0001"
down_revision = "notify_0001"
branch_labels = ("trace",)
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("traceparent", sa.String(64)))


def downgrade() -> None:
    op.drop_column("messages", "traceparent")
