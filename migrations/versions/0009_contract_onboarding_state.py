"""the contract's onboarding state as columns (filtered and counted in SQL)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.add_column(sa.Column("onboarding_state", sa.String(length=20), server_default="post", nullable=False))
        batch_op.add_column(sa.Column("onboarding_expires_at", core.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_contracts_stock_state", "contracts", ["agency_id", "onboarding_state", "number"], unique=False)
    # existing contracts: the state as it was derived from customers, links and codes
    op.execute(
        "UPDATE contracts SET onboarding_state = 'active' WHERE delivery = 'portal' AND customer_account_id IN "
        "(SELECT id FROM customers WHERE activated_at IS NOT NULL)"
    )
    latest = "(SELECT MAX(l.id) FROM access_links l WHERE l.contract_id = contracts.id)"
    op.execute(
        "UPDATE contracts SET "
        f"onboarding_state = CASE WHEN EXISTS (SELECT 1 FROM access_codes c WHERE c.link_id = {latest}) "
        "THEN 'code_sent' ELSE 'link_sent' END, "
        f"onboarding_expires_at = (SELECT l.expires_at FROM access_links l WHERE l.id = {latest}) "
        f"WHERE delivery = 'portal' AND onboarding_state = 'post' AND {latest} IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_contracts_stock_state", table_name="contracts")
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.drop_column("onboarding_expires_at")
        batch_op.drop_column("onboarding_state")
