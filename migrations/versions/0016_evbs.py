"""eVB numbers issued for Kfz contracts

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 00:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evbs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=7), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("hsn", sa.String(length=4), nullable=False),
        sa.Column("tsn", sa.String(length=3), nullable=False),
        sa.Column("vehicle", sa.String(length=200), nullable=False),
        sa.Column("issued_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoke_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_evbs_agency_id_agencies")),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_evbs_contract_id_contracts")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_evbs_owner_id_users")),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["users.id"], name=op.f("fk_evbs_revoked_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evbs")),
        sa.UniqueConstraint("code", name=op.f("uq_evbs_code")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_evbs_contract_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_evbs_public_id")),
    )
    op.create_index(op.f("ix_evbs_agency_id"), "evbs", ["agency_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_evbs_agency_id"), table_name="evbs")
    op.drop_table("evbs")
