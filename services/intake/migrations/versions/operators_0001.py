"""intake operators: hotline operator accounts (password hash, API key hash, role, disabled)

Revision ID: intake_operators_0001
Revises: intake_0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_operators_0001"
down_revision = "intake_0001"
branch_labels = ("operators",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("role", sa.String(12), nullable=False, server_default="operator"),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("api_key_hash", sa.String(64), unique=True),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("sessions_revoked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("role IN ('operator', 'supervisor')", name="ck_operators_role"),
    )


def downgrade() -> None:
    op.drop_table("operators")
