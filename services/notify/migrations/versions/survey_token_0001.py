"""notify: survey tokens (hashed, expiring, one per survey round); the plaintext contacts.survey_token goes

Revision ID: survey_token_0001
Revises: notify_0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "survey_token_0001"
down_revision = "notify_0002"
branch_labels = ("survey_token",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("survey_round", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("case_id", "survey_round", name="uq_survey_tokens_round"),
    )
    op.create_index("ix_survey_tokens_case_id", "survey_tokens", ["case_id"])
    # old links were plaintext, unbounded and shared by every round: they stop working
    op.drop_constraint("uq_contacts_survey_token", "contacts", type_="unique")
    op.drop_column("contacts", "survey_token")


def downgrade() -> None:
    op.add_column("contacts", sa.Column("survey_token", sa.String(32)))
    op.create_unique_constraint("uq_contacts_survey_token", "contacts", ["survey_token"])
    op.drop_table("survey_tokens")
