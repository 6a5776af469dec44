"""index for the worker's scan of expired portal invitations

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 20:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_contracts_onboarding_expiry", "contracts", ["onboarding_state", "onboarding_expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_contracts_onboarding_expiry", table_name="contracts")
