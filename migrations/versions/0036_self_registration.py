"""Self-registration and consent (issue #29): registration requests (recorded by the web request,
answered by the worker), self-registered access links with their confirmation, the portal texts'
versions a customer agreed to, and every consent given

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_number", sa.String(length=40), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("terms_version", sa.String(length=40), nullable=False),
        sa.Column("privacy_version", sa.String(length=40), nullable=False),
        sa.Column("client_address", sa.String(length=45), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_requests")),
    )
    op.create_index("ix_registration_requests_processed_at", "registration_requests", ["processed_at"])
    with op.batch_alter_table("access_links") as batch:
        batch.add_column(sa.Column("self_registered", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("registration_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("terms_version", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("privacy_version", sa.String(length=40), nullable=True))
    op.create_table(
        "portal_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("terms_version", sa.String(length=40), nullable=False),
        sa.Column("privacy_version", sa.String(length=40), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_portal_consents_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_consents")),
    )
    op.create_index("ix_portal_consents_customer_id", "portal_consents", ["customer_id"])
    # the read model tells a customer's own registration from a broker's invitation (none so far: 0)
    with op.batch_alter_table("onboarding_progress") as batch:
        batch.add_column(sa.Column("self_registered", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("onboarding_progress") as batch:
        batch.drop_column("self_registered")
    op.drop_index("ix_portal_consents_customer_id", table_name="portal_consents")
    op.drop_table("portal_consents")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("privacy_version")
        batch.drop_column("terms_version")
    with op.batch_alter_table("access_links") as batch:
        batch.drop_column("registration_id")
        batch.drop_column("confirmed_at")
        batch.drop_column("self_registered")
    op.drop_index("ix_registration_requests_processed_at", table_name="registration_requests")
    op.drop_table("registration_requests")
