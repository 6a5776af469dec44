"""e-mails on behalf of a broker (sender name, Reply-To) with attachments (the offer PDF)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.add_column(sa.Column("attachment_names", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sender_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reply_to", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.drop_column("reply_to")
        batch_op.drop_column("sender_name")
        batch_op.drop_column("attachment_names")
