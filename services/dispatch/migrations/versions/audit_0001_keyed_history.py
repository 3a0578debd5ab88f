"""dispatch (audit branch): keyed history MACs and checkpoint bookkeeping

``case_history.key_id``: id of the audit key whose HMAC is in ``hash`` (NULL: legacy sha256 rows).
``cases.audit_seq``: history length last checkpointed outside the database; the partial index holds
only cases whose head moved since, so the checkpoint job's query reads just those.

Revision ID: dispatch_audit_0001
Revises: dispatch_0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "dispatch_audit_0001"
down_revision = "dispatch_0002"
branch_labels = ("audit",)
depends_on = None


def upgrade() -> None:
    op.add_column("case_history", sa.Column("key_id", sa.String(32)))
    op.add_column("cases", sa.Column("audit_seq", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_cases_audit_pending", "cases", ["id"], postgresql_where=sa.text("audit_seq <> history_seq"))


def downgrade() -> None:
    op.drop_index("ix_cases_audit_pending", table_name="cases")
    op.drop_column("cases", "audit_seq")
    op.drop_column("case_history", "key_id")
