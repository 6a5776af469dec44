"""contact_messages: the portal's "Kontakt" — a customer's messages about his contracts and the
answers of his broker and the back office (issue #29 item 8)

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("answers_id", sa.Integer(), nullable=True),
        sa.Column("from_customer", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sa.String(length=250), nullable=False),
        sa.Column("subject", sa.String(length=30), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachment_name", sa.String(length=200), nullable=True),
        sa.Column("attachment_type", sa.String(length=50), nullable=True),
        sa.Column("attachment_key", sa.String(length=64), nullable=True),
        sa.Column("attachment_size", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_contact_messages_agency_id_agencies")),
        sa.ForeignKeyConstraint(
            ["answers_id"], ["contact_messages.id"], name=op.f("fk_contact_messages_answers_id_contact_messages")
        ),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_contact_messages_author_id_users")),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_contact_messages_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_contact_messages_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_messages")),
        sa.UniqueConstraint("public_id", name=op.f("uq_contact_messages_public_id")),
    )
    op.create_index("ix_contact_messages_contract_id", "contact_messages", ["contract_id"])
    op.create_index("ix_contact_messages_created_at", "contact_messages", ["created_at"])
    op.create_index(
        "ix_contact_messages_open", "contact_messages", ["from_customer", "answered_at", "agency_id", "owner_id"]
    )


def downgrade() -> None:
    op.drop_table("contact_messages")
