"""renewal_previews: the Probelauf before a renewal (how many premiums rise, fall, stay; the biggest
changes; the failures to expect)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 02:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "renewal_previews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("rises", sa.Integer(), nullable=False),
        sa.Column("falls", sa.Integer(), nullable=False),
        sa.Column("stays", sa.Integer(), nullable=False),
        sa.Column("biggest", sa.JSON(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("started_label", sa.String(length=100), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_renewal_previews_due", "renewal_previews", ["due"])
    op.create_index(
        "ux_renewal_previews_running",
        "renewal_previews",
        ["due"],
        unique=True,
        sqlite_where=sa.text("finished_at IS NULL"),
        postgresql_where=sa.text("finished_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ux_renewal_previews_running", table_name="renewal_previews")
    op.drop_index("ix_renewal_previews_due", table_name="renewal_previews")
    op.drop_table("renewal_previews")
