"""notify: delivery state on messages, contact book, survey answers

Revision ID: notify_0002
Revises: notify_0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0002"
down_revision = "notify_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
    op.add_column("messages", sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.func.now()))
    op.add_column("messages", sa.Column("sent_at", sa.DateTime(timezone=True)))
    op.add_column("messages", sa.Column("last_error", sa.Text))
    op.create_index(
        "ix_messages_pending", "messages", ["next_attempt_at"], postgresql_where=sa.text("status = 'pending'")
    )
    op.create_table(
        "contacts",
        sa.Column("case_id", sa.String(26), primary_key=True),
        sa.Column("tracking_code", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("recipient", sa.String(128)),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("survey_round", sa.Integer, nullable=False, server_default="0"),
        sa.Column("survey_token", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("tracking_code", name="uq_contacts_tracking_code"),
        sa.UniqueConstraint("survey_token", name="uq_contacts_survey_token"),
    )
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("tracking_code", sa.String(20), nullable=False),
        sa.Column("survey_round", sa.Integer, nullable=False),
        sa.Column("result", sa.String(8), nullable=False),
        sa.Column("comment", sa.String(500)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "survey_round", name="uq_survey_answers_round"),
    )
    op.create_index("ix_survey_answers_tracking_code", "survey_answers", ["tracking_code"])


def downgrade() -> None:
    op.drop_table("survey_answers")
    op.drop_table("contacts")
    op.drop_index("ix_messages_pending", table_name="messages")
    for column in ("last_error", "sent_at", "next_attempt_at", "attempts"):
        op.drop_column("messages", column)
