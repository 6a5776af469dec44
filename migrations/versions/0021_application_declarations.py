"""applications: the Vertragsinformationen handed over (§ 7 VVG), the notice of § 19 Abs. 5 VVG
confirmed, and for Kfz the occasion (Neuzulassung, Halterwechsel, Versichererwechsel), the FIN and
the Kennzeichen

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.add_column(sa.Column("contract_info_given_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("notice_19_confirmed_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("occasion", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("vin", sa.String(length=17), nullable=True))
        batch_op.add_column(sa.Column("plate", sa.String(length=15), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        for column in ("plate", "vin", "occasion", "notice_19_confirmed_at", "contract_info_given_on"):
            batch_op.drop_column(column)
