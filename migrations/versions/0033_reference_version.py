"""reference_version: one row whose value changes with every change of the reference data (vehicles,
Typklassen, places, Regionalklassen), so each process knows when its in-process snapshot is stale

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "reference_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_version")),
    )
    op.bulk_insert(table, [{"id": 1, "version": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("reference_version")
