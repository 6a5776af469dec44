"""claims (Schadenmeldungen) and their uploads

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("other_party", sa.Text(), nullable=True),
        sa.Column("police", sa.Boolean(), nullable=True),
        sa.Column("reported_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_claims_agency_id_agencies")),
        sa.ForeignKeyConstraint(["contract_id"], ["contracts.id"], name=op.f("fk_claims_contract_id_contracts")),
        sa.ForeignKeyConstraint(["handled_by_id"], ["users.id"], name=op.f("fk_claims_handled_by_id_users")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_claims_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("number", name=op.f("uq_claims_number")),
        sa.UniqueConstraint("public_id", name=op.f("uq_claims_public_id")),
    )
    op.create_index("ix_claims_contract_occurred", "claims", ["contract_id", "occurred_on"], unique=False)
    op.create_index(op.f("ix_claims_agency_id"), "claims", ["agency_id"], unique=False)
    op.create_index(op.f("ix_claims_handled_at"), "claims", ["handled_at"], unique=False)
    op.create_table(
        "claim_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"], name=op.f("fk_claim_files_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_files")),
        sa.UniqueConstraint("public_id", name=op.f("uq_claim_files_public_id")),
    )
    op.create_index(op.f("ix_claim_files_claim_id"), "claim_files", ["claim_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_claim_files_claim_id"), table_name="claim_files")
    op.drop_table("claim_files")
    op.drop_index(op.f("ix_claims_handled_at"), table_name="claims")
    op.drop_index(op.f("ix_claims_agency_id"), table_name="claims")
    op.drop_index("ix_claims_contract_occurred", table_name="claims")
    op.drop_table("claims")
