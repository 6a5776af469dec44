"""The back office's outbox actions as services: each state change is guarded by the state it
starts from, so a worker's claim or a second click cannot be overwritten or counted twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.audit import AuditEntry
from core.contact import PostalAddress
from core.users import Role
from messaging import backoffice, outbox
from messaging.models import OutboxMessage, State


@pytest.fixture
def clerk(make_user):
    return make_user(Role.BACKOFFICE)


def _letter(outbox_app, s, n: int, state: State, pdf: bytes | None = b"%PDF-1.4") -> OutboxMessage:
    with outbox_app.app_context():
        message = outbox.enqueue_letter(
            s,
            key=f"letter:{n}",
            address=PostalAddress(f"Kundin {n}", "Hauptstraße 1", "10115", "Berlin"),
            subject="Brief",
            template="hello",
            context={"name": "Kundin", "text": "Text"},
        )
    message.state, message.pdf = state, pdf
    s.commit()
    return message


def _audits(s, action: str) -> int:
    return s.scalar(sa.select(sa.func.count()).where(AuditEntry.action == action))


def test_retry_only_from_failed_or_waiting(outbox_app, session, clerk):
    with outbox_app.app_context():
        message = outbox.enqueue_sms(session, key="sms:1", to="0151 12345678", template="raw", context={"text": "Hi"})
    message.state, message.attempts = State.SENDING, 3  # a worker holds it right now
    session.commit()
    with pytest.raises(backoffice.BackofficeError, match="gerade zugestellt"):
        backoffice.retry(session, clerk, message.public_id)
    session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message.id).values(state=State.FAILED))
    session.commit()
    retried = backoffice.retry(session, clerk, message.public_id)
    assert (retried.state, retried.attempts) == (State.PENDING, 0)
    assert _audits(session, "message_retried") == 1
    assert backoffice.retry(session, clerk, "unknown") is None


def test_posting_counts_once_and_undo_needs_the_kept_pdf(outbox_app, session, clerk):
    ready = _letter(outbox_app, session, 1, State.READY)
    gone = _letter(outbox_app, session, 2, State.POSTED, pdf=None)  # its PDF was purged
    assert backoffice.mark_posted(session, clerk, [ready.public_id, gone.public_id]) == 1
    assert backoffice.mark_posted(session, clerk, [ready.public_id]) == 0  # a second click
    assert _audits(session, "letter_posted") == 1
    session.refresh(ready)
    assert (ready.state, ready.posted_by) == (State.POSTED, clerk.email)
    assert backoffice.unpost(session, clerk, ready.public_id) == "Kundin 1"
    session.refresh(ready)
    assert (ready.state, ready.sent_at, ready.posted_by) == (State.READY, None, None)
    with pytest.raises(backoffice.BackofficeError, match="nicht mehr zurückgeholt"):
        backoffice.unpost(session, clerk, gone.public_id)
    assert _audits(session, "letter_unposted") == 1
