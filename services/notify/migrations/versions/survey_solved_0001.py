"""notify: a survey answer keeps the citizen's own answer to 您反映的问题解决了吗？ (null: not asked or not said)

Revision ID: notify_survey_solved_0001
Revises: survey_token_0001
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_survey_solved_0001"
down_revision = "survey_token_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("survey_answers", sa.Column("solved", sa.Boolean()))


def downgrade() -> None:
    op.drop_column("survey_answers", "solved")
