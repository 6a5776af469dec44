"""contracts: SF-Klassen taken over from a prior insurer wait for the Vorversicherer's confirmation
(state and the day it is due)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.add_column(sa.Column("sf_confirmation", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("sf_confirm_by", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_contracts_sf_confirmation"), ["sf_confirmation"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_sf_confirmation"))
        batch_op.drop_column("sf_confirm_by")
        batch_op.drop_column("sf_confirmation")
