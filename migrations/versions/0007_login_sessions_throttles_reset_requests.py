"""server-side login sessions, login throttles, password reset requests, letters' print and retention times

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 16:40:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    op.create_index("ix_login_sessions_account", "login_sessions", ["kind", "account_id"], unique=False)
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=254), nullable=False),
        sa.Column("requested_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
    )
    op.create_index(
        op.f("ix_password_reset_requests_processed_at"), "password_reset_requests", ["processed_at"], unique=False
    )
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.add_column(sa.Column("printed_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("retain_until", core.db.UTCDateTime(timezone=True), nullable=True))
    # sessions live in login_sessions now: the per-account token columns go (every session ends)
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_session_token", type_="unique")
        batch_op.drop_column("session_token")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_constraint("uq_customers_session_token", type_="unique")
        batch_op.drop_column("session_token")


def _restore_token_column(table: str) -> None:
    with op.batch_alter_table(table) as batch_op:
        batch_op.add_column(sa.Column("session_token", sa.String(length=64), nullable=True))
    t = sa.table(table, sa.column("id", sa.Integer()), sa.column("session_token", sa.String()))
    bind = op.get_bind()
    for (row_id,) in bind.execute(sa.select(t.c.id)).all():
        bind.execute(sa.update(t).where(t.c.id == row_id).values(session_token=secrets.token_hex(16)))
    with op.batch_alter_table(table) as batch_op:
        batch_op.alter_column("session_token", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(f"uq_{table}_session_token", ["session_token"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.drop_column("retain_until")
        batch_op.drop_column("printed_at")
    _restore_token_column("customers")
    _restore_token_column("users")
    op.drop_index(op.f("ix_password_reset_requests_processed_at"), table_name="password_reset_requests")
    op.drop_table("password_reset_requests")
    op.drop_table("login_throttles")
    op.drop_index("ix_login_sessions_account", table_name="login_sessions")
    op.drop_table("login_sessions")
