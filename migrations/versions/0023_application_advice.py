"""applications: the Beratungsdokumentation (§§ 61, 62 VVG) — wishes, advice, reasons or the waiver

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.add_column(sa.Column("advice", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.drop_column("advice")
