"""Documents as deliveries (the BiPRO Transfer idea): the documents of the contracts a client may
see that it has not acknowledged, in id order; a cursor continues after the last one listed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from api.models import ApiClient, DeliveryAck
from contracts.models import Contract, Document
from core import clock
from core.authz import scoped
from core.users import User


def page(
    session: so.Session, client: ApiClient, user: User, after: int, limit: int
) -> tuple[list[tuple[Document, str | None, str]], int | None]:
    """Up to `limit` unacknowledged documents after the cursor `after` (a document id), with the
    contract number and customer name; and the cursor of the next page (None: none left). One
    statement: the scope's index (agency or owner, id) walked in order, acknowledged ones skipped
    by the acknowledgements' primary key."""
    acked = sa.exists().where(DeliveryAck.client_id == client.id, DeliveryAck.document_id == Document.id)
    stmt = (
        sa.select(Document, Contract.number, Contract.customer_name)
        .join(Contract, Contract.id == Document.contract_id)
        .where(Document.id > after, ~acked)
        .order_by(Document.id)
        .limit(limit + 1)
    )
    scoped_stmt: sa.Select[Any] = scoped(stmt, Document, user)  # type: ignore[arg-type]
    rows: list[tuple[Document, str | None, str]] = [(d, n, c) for d, n, c in session.execute(scoped_stmt)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more and rows else None)


def acknowledge(session: so.Session, client: ApiClient, document: Document) -> None:
    """Once per client and document; a repeated acknowledgement is no error (idempotent)."""
    try:
        with session.begin_nested():
            session.add(DeliveryAck(client_id=client.id, document_id=document.id, acked_at=clock.now()))
    except IntegrityError:
        pass
