"""onboarding_progress: a read model of each invited contract's onboarding (first and last link,
opened, code, activated, open/expired link), kept by onboarding.progress; backfilled from the access
links, codes, customers and contracts

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "onboarding_progress",
        sa.Column("contract_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("contract_public_id", sa.String(length=32), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("delivery", sa.Enum("portal", "post", name="delivery", native_enum=False, length=20), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_onboarding_progress_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_onboarding_progress")),
    )
    op.create_index("ix_onboarding_progress_agency_sent", "onboarding_progress", ["agency_id", "sent_at"])
    op.create_index("ix_onboarding_progress_sent", "onboarding_progress", ["sent_at"])
    # backfill: the same rows as onboarding.progress.computed() (every contract with a link)
    op.execute(
        """
        INSERT INTO onboarding_progress (contract_id, contract_public_id, agency_id, owner_id, delivery, sent_at,
            last_sent_at, opened_at, code_at, activated_at, open_until, expired_since)
        SELECT p.contract_id, c.public_id, c.agency_id, c.owner_id, c.delivery, p.sent_at, p.last_sent_at,
            p.opened_at, p.code_at,
            CASE WHEN cu.activated_at >= p.sent_at THEN cu.activated_at END,
            p.open_until, p.expired_since
        FROM (
            SELECT l.contract_id, min(l.created_at) AS sent_at, max(l.created_at) AS last_sent_at,
                min(l.opened_at) AS opened_at, min(k.created_at) AS code_at,
                max(CASE WHEN l.used_at IS NULL AND l.revoked_at IS NULL THEN l.expires_at END) AS open_until,
                min(CASE WHEN l.used_at IS NULL AND l.revoked_at IS NULL THEN l.expires_at END) AS expired_since
            FROM access_links l LEFT OUTER JOIN access_codes k ON k.link_id = l.id
            GROUP BY l.contract_id
        ) AS p
        JOIN contracts c ON c.id = p.contract_id
        LEFT OUTER JOIN customers cu ON cu.id = c.customer_account_id
        """
    )


def downgrade() -> None:
    op.drop_index("ix_onboarding_progress_sent", table_name="onboarding_progress")
    op.drop_index("ix_onboarding_progress_agency_sent", table_name="onboarding_progress")
    op.drop_table("onboarding_progress")
