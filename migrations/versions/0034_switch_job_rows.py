"""switch_job_rows: a bulk switch's rows in a table of their own instead of one JSON column, so
several workers can take chunks of one job at once (FOR UPDATE SKIP LOCKED) and each row's outcome is
written in the transaction that switched it

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 07:30:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

FIELDS = ("line", "number", "email", "mobile", "status", "message", "source", "email_checked", "mobile_checked")


def upgrade() -> None:
    rows = op.create_table(
        "switch_job_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=254), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("mobile", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("email_checked", sa.String(length=254), nullable=False),
        sa.Column("mobile_checked", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["switch_jobs.id"], name=op.f("fk_switch_job_rows_job_id_switch_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_switch_job_rows")),
        sa.UniqueConstraint("job_id", "line", name=op.f("uq_switch_job_rows_job_id")),
    )
    op.create_index("ix_switch_job_rows_open", "switch_job_rows", ["job_id", "status", "line"])
    bind = op.get_bind()
    jobs = sa.table("switch_jobs", sa.column("id", sa.Integer), sa.column("rows", sa.JSON))
    for job_id, stored in bind.execute(sa.select(jobs.c.id, jobs.c.rows)).all():
        if isinstance(stored, str):
            stored = json.loads(stored)
        values = [
            {"job_id": job_id, **{f: row.get(f, "" if f != "line" else n) for f in FIELDS}}
            for n, row in enumerate(stored or [], start=1)
        ]
        for value in values:
            value["source"] = value["source"] or "csv"
            value["message"] = (value["message"] or "")[:300]
        if values:
            bind.execute(sa.insert(rows), values)
    with op.batch_alter_table("switch_jobs") as batch:
        batch.drop_column("rows")


def downgrade() -> None:
    with op.batch_alter_table("switch_jobs") as batch:
        batch.add_column(sa.Column("rows", sa.JSON(), nullable=False, server_default="[]"))
    op.drop_index("ix_switch_job_rows_open", table_name="switch_job_rows")
    op.drop_table("switch_job_rows")
