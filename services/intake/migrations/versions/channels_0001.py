"""intake channels: wechat messages, pending media fetches, app/grid submissions

Revision ID: intake_channels_0001
Revises: intake_0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_channels_0001"
down_revision = "intake_0001"
branch_labels = ("channels",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_messages",
        sa.Column("msg_key", sa.String(128), primary_key=True),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("msg_type", sa.String(16), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("complaint_id", sa.String(26)),
        sa.Column("needs_location", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reply", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_wechat_messages_openid_created", "wechat_messages", ["openid", "created_at"])
    op.create_table(
        "media_fetches",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("complaint_id", sa.String(26), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("media_id", sa.String(128)),
        sa.Column("url", sa.Text),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("blob_sha256", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_media_fetches_status_created", "media_fetches", ["status", "created_at"])
    op.create_table(
        "channel_submissions",
        sa.Column("complaint_id", sa.String(26), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("submission_type", sa.String(16), nullable=False),
        sa.Column("errand", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("worker_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_submissions")
    op.drop_table("media_fetches")
    op.drop_table("wechat_messages")
