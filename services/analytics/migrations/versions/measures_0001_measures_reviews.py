"""analytics: measure projections (measure_cases, measure_facts) and 逆向评价 (department_reviews)

Revision ID: analytics_measures_0001
Revises: analytics_0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "analytics_measures_0001"
down_revision = "analytics_0002"
branch_labels = ("measures",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "measure_cases",
        sa.Column("case_id", sa.String(26), primary_key=True),
        sa.Column("tracking_code", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=True),
        sa.Column("category", sa.String(4), nullable=False),
        sa.Column("matter_code", sa.String(20), nullable=True),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("grid_code", sa.String(20), nullable=False),
        sa.Column("lead", sa.String(20), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("returns", sa.Integer, nullable=False),
        sa.Column("reopens", sa.Integer, nullable=False),
        sa.Column("open_assignment", sa.Integer, nullable=True),
        sa.Column("survey_result", sa.String(8), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_measure_cases_received", "measure_cases", ["received_at"])
    op.create_index("ix_measure_cases_state_deadline", "measure_cases", ["state", "deadline_at"])
    op.create_table(
        "measure_facts",
        sa.Column("case_id", sa.String(26), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department", sa.String(20), nullable=True),
        sa.Column("sign_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_time", sa.Boolean, nullable=True),
        sa.Column("one_time", sa.Boolean, nullable=True),
        sa.Column("reopened_before", sa.Boolean, nullable=True),
        sa.Column("result", sa.String(8), nullable=True),
        sa.Column("solved", sa.Boolean, nullable=True),
        sa.PrimaryKeyConstraint("case_id", "n"),
    )
    op.create_index("ix_measure_facts_kind_at", "measure_facts", ["kind", "at"])
    op.create_table(
        "department_reviews",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("street_code", sa.String(20), nullable=False),
        sa.Column("department", sa.String(20), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("comment", sa.String(500), nullable=True),
        sa.Column("reviewer", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("month", "street_code", "department", name="uq_department_reviews_month"),
    )


def downgrade() -> None:
    op.drop_table("department_reviews")
    op.drop_index("ix_measure_facts_kind_at", table_name="measure_facts")
    op.drop_table("measure_facts")
    op.drop_index("ix_measure_cases_state_deadline", table_name="measure_cases")
    op.drop_index("ix_measure_cases_received", table_name="measure_cases")
    op.drop_table("measure_cases")
