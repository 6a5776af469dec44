"""Kunden: one customer record behind offers, applications and contracts

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 01:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _byte_ordered(length: int) -> sa.types.TypeEngine[str]:
    """Collation "C" on PostgreSQL: prefix LIKE and ORDER BY served by the plain index."""
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("salutation", sa.String(length=20), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("street", sa.String(length=150), nullable=False),
        sa.Column("plz", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("email", _byte_ordered(254), nullable=True),
        sa.Column("mobile", sa.String(length=20), nullable=True),
        sa.Column("search_key", _byte_ordered(250), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_clients_agency_id_agencies")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_clients_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("public_id", name=op.f("uq_clients_public_id")),
    )
    op.create_index("ix_clients_agency_search", "clients", ["agency_id", "search_key"], unique=False)
    op.create_index("ix_clients_agency_birth", "clients", ["agency_id", "birth_date"], unique=False)
    op.create_index("ix_clients_agency_email", "clients", ["agency_id", "email"], unique=False)
    for table in ("offers", "contracts"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("client_id", sa.Integer(), nullable=True))
            batch_op.create_index(op.f(f"ix_{table}_client_id"), ["client_id"], unique=False)
            batch_op.create_foreign_key(op.f(f"fk_{table}_client_id_clients"), "clients", ["client_id"], ["id"])


def downgrade() -> None:
    for table in ("contracts", "offers"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_client_id_clients"), type_="foreignkey")
            batch_op.drop_index(op.f(f"ix_{table}_client_id"))
            batch_op.drop_column("client_id")
    op.drop_index("ix_clients_agency_email", table_name="clients")
    op.drop_index("ix_clients_agency_birth", table_name="clients")
    op.drop_index("ix_clients_agency_search", table_name="clients")
    op.drop_table("clients")
