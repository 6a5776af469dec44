"""Agency dashboard: indexes for its figures, monthly share snapshots; contracts already in the
portal get their entry

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BACKFILL_LABEL = "System (Historie ergänzt)"
# frozen here as it was when this revision was written (core.audit.PORTAL_EVENTS_SQL)
PORTAL_EVENTS_SQL = (
    "object_type = 'contract' AND action IN ('portal_activated', 'contract_in_portal', "
    "'contract_switched_to_post', 'contract_switched_to_portal', 'documents_sent_by_post')"
)


def upgrade() -> None:
    op.create_table(
        "share_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("digital", sa.Integer(), nullable=False),
        sa.Column("computed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_share_snapshots_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_snapshots")),
        sa.UniqueConstraint("agency_id", "month", name=op.f("uq_share_snapshots_agency_id")),
    )
    # the digital share over time: the contracts' portal events, per agency and contract in time
    # order, all in a small partial index (the query reads nothing else)
    op.create_index(
        "ix_audit_log_portal_events",
        "audit_log",
        ["agency_id", "object_id", "at", "id", "action"],
        unique=False,
        sqlite_where=sa.text(PORTAL_EVENTS_SQL),
        postgresql_where=sa.text(PORTAL_EVENTS_SQL),
    )
    # the stock per month and the share per broker, read from the index alone; the ended contracts
    op.create_index(
        "ix_contracts_dashboard",
        "contracts",
        ["agency_id", "owner_id", "policed_at", "ends_on", "delivery", "onboarding_state"],
        unique=False,
    )
    op.create_index(
        "ix_contracts_ended",
        "contracts",
        ["agency_id", "public_id", "ends_on"],
        unique=False,
        sqlite_where=sa.text("ends_on IS NOT NULL"),
        postgresql_where=sa.text("ends_on IS NOT NULL"),
    )
    # the agency manager's start page: his agency's newest audit entries
    op.create_index("ix_audit_log_agency_at", "audit_log", ["agency_id", "at"], unique=False)
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
    op.drop_table("share_snapshots")
    op.execute(sa.text("DELETE FROM audit_log WHERE actor_label = :label").bindparams(label=BACKFILL_LABEL))
    op.drop_index("ix_outbox_messages_state_template", table_name="outbox_messages")
    op.drop_index("ix_access_links_created_at", table_name="access_links")
    op.drop_index("ix_audit_log_portal_events", table_name="audit_log")
    op.drop_index("ix_audit_log_agency_at", table_name="audit_log")
    op.drop_index("ix_contracts_ended", table_name="contracts")
    op.drop_index("ix_contracts_dashboard", table_name="contracts")
