"""claims: status (gemeldet → in Bearbeitung → reguliert mit/ohne Zahlung or abgelehnt), the amount
paid, the day it was settled, a note, and the day of a Schadenrückkauf; claims already marked as
handled are "in Bearbeitung"

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="gemeldet"))
        batch_op.add_column(sa.Column("paid_amount", sa.Numeric(12, 2), nullable=True))
        batch_op.add_column(sa.Column("settled_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("status_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("repaid_on", sa.Date(), nullable=True))
    claims = sa.table("claims", sa.column("status", sa.String), sa.column("handled_at", sa.DateTime))
    op.execute(claims.update().where(claims.c.handled_at.is_not(None)).values(status="in_bearbeitung"))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        for column in ("repaid_on", "status_note", "settled_on", "paid_amount", "status"):
            batch_op.drop_column(column)
