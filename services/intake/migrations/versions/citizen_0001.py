"""intake citizen access: a per-complaint secret (stored hashed) for the citizen's own status lookup

Tracking codes grow from 6 to 13 random symbols (date + 13 = 19 characters); every tracking_code
column in every service is already VARCHAR(20), so nothing is widened.

Revision ID: intake_citizen_0001
Revises: intake_0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_citizen_0001"
down_revision = "intake_0001"
branch_labels = ("citizen",)
depends_on = None


def upgrade() -> None:
    op.add_column("complaints", sa.Column("citizen_secret_hash", sa.String(64)))


def downgrade() -> None:
    op.drop_column("complaints", "citizen_secret_hash")
