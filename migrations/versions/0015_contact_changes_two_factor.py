"""the customer's own changes (e-mail and mobile confirmed first), two-factor login, who changed a version

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("old_value", sa.String(length=254), nullable=True),
        sa.Column("new_value", sa.String(length=254), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contact_changes_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_changes")),
        sa.UniqueConstraint("public_id", name=op.f("uq_contact_changes_public_id")),
    )
    op.create_index(op.f("ix_contact_changes_customer_id"), "contact_changes", ["customer_id"], unique=False)
    op.create_index(op.f("ix_contact_changes_secret_hash"), "contact_changes", ["secret_hash"], unique=False)
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_hmac", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_recovery_codes_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("customer_id", "code_hmac", name=op.f("uq_recovery_codes_customer_id")),
    )
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("contract_versions") as batch_op:
        batch_op.add_column(sa.Column("actor_label", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contract_versions") as batch_op:
        batch_op.drop_column("actor_label")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")
    op.drop_table("recovery_codes")
    op.drop_index(op.f("ix_contact_changes_secret_hash"), table_name="contact_changes")
    op.drop_index(op.f("ix_contact_changes_customer_id"), table_name="contact_changes")
    op.drop_table("contact_changes")
