"""the broker API (issue #30): OAuth2 clients and tokens, idempotency keys, acknowledged deliveries,
webhook endpoints; the documents' scope indexes for the deliveries list

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=48), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("acting_user_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_api_clients_agency_id_agencies")),
        sa.ForeignKeyConstraint(["acting_user_id"], ["users.id"], name=op.f("fk_api_clients_acting_user_id_users")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_api_clients_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_clients_public_id")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
    )
    op.create_index("ix_api_clients_agency_id", "api_clients", ["agency_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"], name=op.f("fk_api_tokens_client_id_api_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index("ix_api_tokens_client_id", "api_tokens", ["client_id"])
    op.create_index("ix_api_tokens_expires_at", "api_tokens", ["expires_at"])
    op.create_table(
        "api_idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_api_idempotency_keys_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_keys")),
        sa.UniqueConstraint("client_id", "key", name=op.f("uq_api_idempotency_keys_client_id")),
    )
    op.create_index("ix_api_idempotency_keys_created_at", "api_idempotency_keys", ["created_at"])
    op.create_table(
        "api_delivery_acks",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_api_delivery_acks_client_id_api_clients")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_api_delivery_acks_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("client_id", "document_id", name=op.f("pk_api_delivery_acks")),
    )
    op.create_table(
        "api_webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=254), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.id"], name=op.f("fk_api_webhook_endpoints_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_webhook_endpoints")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_webhook_endpoints_public_id")),
    )
    op.create_index("ix_api_webhook_endpoints_client_id", "api_webhook_endpoints", ["client_id"])
    op.create_index("ix_documents_agency_id_id", "documents", ["agency_id", "id"])
    op.create_index("ix_documents_owner_id_id", "documents", ["owner_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_documents_owner_id_id", table_name="documents")
    op.drop_index("ix_documents_agency_id_id", table_name="documents")
    op.drop_table("api_webhook_endpoints")
    op.drop_table("api_delivery_acks")
    op.drop_table("api_idempotency_keys")
    op.drop_table("api_tokens")
    op.drop_table("api_clients")
