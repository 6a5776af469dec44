"""What the back office reads of the outbox: counts per kind and state, and the filtered list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


# the Postausgang's kinds of letter (by template), as the back office names them (issue #26 item 24)
LETTER_KINDS = {
    "access_code": "Zugangs-Code",
    "contract_documents": "Vertragsunterlagen",
    "portal_not_activated": "Portal nicht aktiviert",
    "test": "Testbrief",
}
LETTER_AGES = (1, 3, 7)  # "älter als … Tage"


def postausgang(
    session: so.Session,
    posted_limit: int = 20,
    *,
    template: str | None = None,
    created_before: datetime | None = None,
) -> tuple[list[OutboxMessage], int, list[Any]]:
    """Letters ready to print (oldest first; of one kind, older than a moment), how many are still
    being rendered, and the last posted ones with whether their PDF is still kept (so posting can be
    undone)."""
    stmt = sa.select(OutboxMessage).where(OutboxMessage.kind == Kind.LETTER, OutboxMessage.state == State.READY)
    if template:
        stmt = stmt.where(OutboxMessage.template == template)
    if created_before is not None:
        stmt = stmt.where(OutboxMessage.created_at < created_before)
    ready = list(session.scalars(stmt.order_by(OutboxMessage.created_at, OutboxMessage.id)))
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


@dataclass(frozen=True)
class OutboxHealth:
    queued: int  # waiting for (another) delivery attempt or being sent
    failed: int
    oldest_waiting: datetime | None
    to_print: int = 0  # letters rendered into the Postausgang, not yet printed and posted


def outbox_health(session: so.Session) -> OutboxHealth:
    """One statement over the open states (ix_outbox_messages_state_template)."""
    waiting = OutboxMessage.state.in_((State.PENDING, State.SENDING))
    row = session.execute(
        sa.select(
            sa.func.count().filter(waiting),
            sa.func.count().filter(OutboxMessage.state == State.FAILED),
            sa.func.min(OutboxMessage.created_at).filter(waiting),
            sa.func.count().filter(OutboxMessage.state == State.READY),
        ).where(OutboxMessage.state.in_((State.PENDING, State.SENDING, State.FAILED, State.READY)))
    ).one()
    return OutboxHealth(queued=int(row[0]), failed=int(row[1]), oldest_waiting=row[2], to_print=int(row[3]))
