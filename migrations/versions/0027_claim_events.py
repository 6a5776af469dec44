"""claims: "Was ist passiert?" in the customer's words (the tariff's claim event) and the
Leistungsart it maps to

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("event", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("event_label", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("benefit", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_column("benefit")
        batch_op.drop_column("event_label")
        batch_op.drop_column("event")
