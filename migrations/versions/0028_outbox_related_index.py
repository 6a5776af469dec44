"""outbox_messages: an index on the related object, for a contract's code letter in the Bestand

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 03:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_messages_related", "outbox_messages", ["related_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_related", table_name="outbox_messages")
