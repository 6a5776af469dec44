"""durable background jobs run by the worker process

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.clock
import core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "running", "done", "failed", name="jobstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("run_after", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_jobs_key")),
    )
    op.create_index("ix_jobs_due", "jobs", ["state", "run_after"], unique=False)
    # bulk switches left running by the old in-process thread: hand them to the worker
    bind = op.get_bind()
    running = bind.execute(sa.text("SELECT id, public_id FROM switch_jobs WHERE state = 'running'")).all()
    now = core.db.UTCDateTime().process_bind_param(core.clock.now(), bind.dialect)
    for switch_id, public_id in running:
        bind.execute(
            sa.text(
                "INSERT INTO jobs (kind, key, payload, state, attempts, steps, run_after, created_at) "
                "VALUES ('agency.switch', :key, :payload, 'pending', 0, 0, :now, :now)"
            ),
            {"key": f"switch:{public_id}", "payload": f'{{"switch_job": {switch_id}}}', "now": now},
        )


def downgrade() -> None:
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_table("jobs")
