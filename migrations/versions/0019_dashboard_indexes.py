"""Agency dashboard: indexes for its figures; contracts already in the portal get their entry

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BACKFILL_LABEL = "System (Historie ergänzt)"


def upgrade() -> None:
    # the digital share over time: the portal events of an agency (or of all), by action and time
    op.create_index("ix_audit_log_action_agency_at", "audit_log", ["action", "agency_id", "at"], unique=False)
    # the funnel: the invitations of a period
    op.create_index("ix_access_links_created_at", "access_links", ["created_at"], unique=False)
    # bounced access-link e-mails; the back office's outbox health
    op.create_index("ix_outbox_messages_state_template", "outbox_messages", ["state", "template"], unique=False)
    # Contracts that entered the portal with a sibling contract's activation (or for an already
    # active customer) got no entry of their own before this revision; the dashboard reads since
    # when a contract is digital from the audit trail, so they get one, dated when it became true.
    op.execute(
        sa.text(
            """
            INSERT INTO audit_log (at, action, actor_id, actor_label, agency_id, object_type, object_id, details)
            SELECT CASE WHEN cu.activated_at > c.policed_at THEN cu.activated_at ELSE c.policed_at END,
                   'contract_in_portal', NULL, :label, c.agency_id, 'contract', c.public_id, '{}'
            FROM contracts c JOIN customers cu ON cu.id = c.customer_account_id
            WHERE c.delivery = 'portal' AND c.onboarding_state = 'active' AND cu.activated_at IS NOT NULL
              AND NOT EXISTS (
                SELECT 1 FROM audit_log a
                WHERE a.object_type = 'contract' AND a.object_id = c.public_id
                  AND a.action IN ('portal_activated', 'contract_in_portal'))
            """
        ).bindparams(label=BACKFILL_LABEL)
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM audit_log WHERE actor_label = :label").bindparams(label=BACKFILL_LABEL))
    op.drop_index("ix_outbox_messages_state_template", table_name="outbox_messages")
    op.drop_index("ix_access_links_created_at", table_name="access_links")
    op.drop_index("ix_audit_log_action_agency_at", table_name="audit_log")
