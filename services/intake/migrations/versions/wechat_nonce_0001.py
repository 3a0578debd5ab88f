"""intake: WeChat callback nonces (replay cache shared by every replica)

Revision ID: intake_wechat_nonce_0001
Revises: intake_0001
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_wechat_nonce_0001"
down_revision = "intake_0001"
branch_labels = ("wechat_nonce",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_nonces",
        sa.Column("nonce", sa.String(128), primary_key=True),
        sa.Column("timestamp", sa.BigInteger, primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False, server_default=""),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_wechat_nonces_timestamp", "wechat_nonces", ["timestamp"])


def downgrade() -> None:
    op.drop_table("wechat_nonces")
