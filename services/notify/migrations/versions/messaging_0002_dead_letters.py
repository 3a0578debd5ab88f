"""notify: dead letters kept once, with their bytes (shared.dead_letters)

Revision ID: notify_messaging_0002
Revises: notify_0001
Create Date: 2026-12-07
"""

from shared.migration_ops import create_dead_letters_table, drop_dead_letters_table

revision = "notify_messaging_0002"
down_revision = "notify_0001"
branch_labels = ("messaging",)
depends_on = None


def upgrade() -> None:
    create_dead_letters_table()


def downgrade() -> None:
    drop_dead_letters_table()
