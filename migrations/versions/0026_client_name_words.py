"""client_name_words: the Kunden search finds any part of a name ("Lüdenscheidt" finds
"Müller-Lüdenscheidt") by an indexed prefix lookup

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def _byte_ordered(length: int) -> sa.types.TypeEngine[str]:
    """Collation "C" on PostgreSQL: prefix LIKE served by the plain index."""
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    words = op.create_table(
        "client_name_words",
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("word", _byte_ordered(250), nullable=False),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agencies.id"), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "word"),
    )
    op.create_index("ix_client_name_words_agency_word", "client_name_words", ["agency_id", "word", "client_id"])
    # the customers there are: each search key from each of its words on
    clients = sa.table("clients", sa.column("id"), sa.column("agency_id"), sa.column("search_key"))
    bind = op.get_bind()
    rows = []
    for client_id, agency_id, key in bind.execute(sa.select(clients.c.id, clients.c.agency_id, clients.c.search_key)):
        parts = key.split()
        rows.extend(
            {"client_id": client_id, "agency_id": agency_id, "word": " ".join(parts[i:])} for i in range(len(parts))
        )
        if len(rows) >= 5000:
            op.bulk_insert(words, rows)
            rows = []
    if rows:
        op.bulk_insert(words, rows)


def downgrade() -> None:
    op.drop_index("ix_client_name_words_agency_word", table_name="client_name_words")
    op.drop_table("client_name_words")
