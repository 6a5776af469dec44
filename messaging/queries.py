"""What the back office reads of the outbox: counts per kind and state, and the filtered list."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core import paging
from messaging.models import Kind, OutboxMessage, State


def counts(session: so.Session) -> dict[tuple[str, str], int]:
    """(kind, state) → number of messages, in one grouped query."""
    return {
        (kind.value, state.value): n
        for kind, state, n in session.execute(
            sa.select(OutboxMessage.kind, OutboxMessage.state, sa.func.count()).group_by(
                OutboxMessage.kind, OutboxMessage.state
            )
        )
    }


def messages_page(
    session: so.Session, *, state: str, kind: str, recipient: str, page: int, size: int
) -> paging.Page[OutboxMessage]:
    """Messages filtered by state, kind and recipient (% and _ as typed); failed ones first, then
    the newest; the bodies are not loaded."""
    stmt = sa.select(OutboxMessage).options(so.defer(OutboxMessage.body_html), so.defer(OutboxMessage.body_text))
    if state in {s.value for s in State}:
        stmt = stmt.where(OutboxMessage.state == State(state))
    if kind in {k.value for k in Kind}:
        stmt = stmt.where(OutboxMessage.kind == Kind(kind))
    if recipient:
        stmt = stmt.where(OutboxMessage.recipient.icontains(recipient, autoescape=True))
    failed_first = sa.case((OutboxMessage.state == State.FAILED, 0), else_=1)
    ordered = stmt.order_by(failed_first, OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    return paging.paginate(session, ordered, page, size)


def postausgang(session: so.Session, posted_limit: int = 20) -> tuple[list[OutboxMessage], int, list[Any]]:
    """Letters ready to print (oldest first), how many are still being rendered, and the last posted
    ones with whether their PDF is still kept (so posting can be undone)."""
    ready = list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.kind == Kind.LETTER, OutboxMessage.state == State.READY)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )
    waiting = session.scalar(
        sa.select(sa.func.count()).where(
            OutboxMessage.kind == Kind.LETTER, OutboxMessage.state.in_([State.PENDING, State.SENDING])
        )
    )
    posted = list(
        session.execute(
            sa.select(OutboxMessage, OutboxMessage.pdf.is_not(None).label("kept"))
            .where(OutboxMessage.kind == Kind.LETTER, OutboxMessage.state == State.POSTED)
            .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
            .limit(posted_limit)
        )
    )
    return ready, waiting or 0, posted
