"""contract versions (Nachträge, Kündigung, renewals), the contract's own risk, Hauptfälligkeit

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 21:40:00
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _add_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def _next_main_due(product: str, start: date, today: date) -> date:
    """As contracts.lifecycle.next_main_due (a migration keeps its own copy of the rule): Kfz on
    1 January, Rechtsschutz on the start's anniversary, the first one after today."""
    due = date(start.year + 1, 1, 1) if product == "kfz" else _add_year(start)
    while due <= today:
        due = _add_year(due)
    return due


def upgrade() -> None:
    op.create_table(
        "renewal_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("started_label", sa.String(length=100), nullable=False),
        sa.Column("starts", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["started_by_id"], ["users.id"], name=op.f("fk_renewal_runs_started_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewal_runs")),
        sa.UniqueConstraint("due", name=op.f("uq_renewal_runs_due")),
        sa.UniqueConstraint("public_id", name=op.f("uq_renewal_runs_public_id")),
    )
    op.create_table(
        "contract_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("endorsement_no", sa.Integer(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("renewal_due", sa.Date(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("premium_delta", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_contract_versions_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_contract_versions_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["renewal_runs.id"], name=op.f("fk_contract_versions_run_id_renewal_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_versions")),
        sa.UniqueConstraint("contract_id", "seq", name="uq_contract_versions_seq"),
        sa.UniqueConstraint("contract_id", "renewal_due", name="uq_contract_versions_renewal_due"),
    )
    op.create_index(op.f("ix_contract_versions_run_id"), "contract_versions", ["run_id"], unique=False)
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("risk", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("account_holder", sa.String(length=140), nullable=True))
        batch_op.add_column(sa.Column("main_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ends_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_index(batch_op.f("ix_contracts_main_due"), ["main_due"], unique=False)

    # existing contracts: their own risk from the offer they were made from, and the Hauptfälligkeit
    bind = op.get_bind()
    contracts = sa.table(
        "contracts",
        sa.column("id", sa.Integer),
        sa.column("answers", sa.JSON),
        sa.column("risk", sa.JSON),
        sa.column("account_holder", sa.String),
        sa.column("main_due", sa.Date),
    )
    rows = bind.execute(
        sa.text(
            "SELECT c.id, c.product, c.start_date, o.form_data, o.risk, a.account_holder FROM contracts c "
            "LEFT JOIN applications a ON a.id = c.application_id LEFT JOIN offers o ON o.id = a.offer_id"
        ).columns(form_data=sa.JSON, risk=sa.JSON, start_date=sa.Date)
    ).all()
    today = date.today()
    updates = [
        {
            "cid": r.id,
            "a": r.form_data,
            "r": r.risk,
            "h": r.account_holder,
            "d": _next_main_due(r.product, r.start_date, today),
        }
        for r in rows
    ]
    if updates:
        bind.execute(
            contracts.update()
            .where(contracts.c.id == sa.bindparam("cid"))
            .values(
                answers=sa.bindparam("a"),
                risk=sa.bindparam("r"),
                account_holder=sa.bindparam("h"),
                main_due=sa.bindparam("d"),
            ),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_main_due"))
        for column in ("version", "end_reason", "ends_on", "main_due", "account_holder", "risk", "answers"):
            batch_op.drop_column(column)
    op.drop_index(op.f("ix_contract_versions_run_id"), table_name="contract_versions")
    op.drop_table("contract_versions")
    op.drop_table("renewal_runs")
