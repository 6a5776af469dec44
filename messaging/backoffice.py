"""The back office's actions on the outbox: retry a message, print letters, mark them as posted and
undo that. Each state change is one guarded UPDATE (… WHERE state = … RETURNING), so it cannot race
a worker that claims the same message, nor a colleague clicking the same button."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from pypdf import PdfWriter

from core import audit, clock
from core.users import User
from messaging.failures import address_refused
from messaging.models import Kind, OutboxMessage, State


class BackofficeError(ValueError):
    """German message for the back office."""


def retry(session: so.Session, user: User, public_id: str) -> OutboxMessage | None:
    """A failed (or waiting) message is tried again now, with a fresh set of attempts (the caller
    commits, as for every function here). None if there
    is no such message; BackofficeError while a worker delivers it or once it is sent, and for an
    e-mail whose address was refused for good (it needs "Adresse korrigieren", not another try)."""
    refused = session.execute(
        sa.select(OutboxMessage.kind, OutboxMessage.state, OutboxMessage.last_error).where(
            OutboxMessage.public_id == public_id
        )
    ).first()
    if (
        refused is not None
        and refused.kind is Kind.EMAIL
        and refused.state is State.FAILED
        and address_refused(refused.last_error)
    ):
        raise BackofficeError(
            "Der Empfänger hat diese Adresse abgelehnt; erneutes Senden hilft nicht. Bitte korrigieren Sie die Adresse."
        )
    message = session.scalar(
        sa.update(OutboxMessage)
        .where(OutboxMessage.public_id == public_id, OutboxMessage.state.in_([State.FAILED, State.PENDING]))
        .values(state=State.PENDING, attempts=0, next_attempt_at=clock.now())
        .returning(OutboxMessage)
        .execution_options(populate_existing=True)
    )
    if message is None:
        if session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.public_id == public_id)) is None:
            return None
        raise BackofficeError("Diese Nachricht wird gerade zugestellt oder ist bereits versendet.")
    audit.record(
        session,
        "message_retried",
        actor=user,
        object_type="message",
        object_id=message.public_id,
        details={"kind": message.kind.value},
    )
    return message


def ready_letters(session: so.Session, public_ids: Sequence[str], *, with_pdf: bool = True) -> list[OutboxMessage]:
    """The chosen letters that wait in the Postausgang, oldest first."""
    if not public_ids:
        return []
    stmt = sa.select(OutboxMessage).where(
        OutboxMessage.public_id.in_(public_ids), OutboxMessage.kind == Kind.LETTER, OutboxMessage.state == State.READY
    )
    if with_pdf:
        stmt = stmt.options(so.undefer(OutboxMessage.pdf))
    return list(session.scalars(stmt.order_by(OutboxMessage.created_at, OutboxMessage.id)))


def print_batch(session: so.Session, public_ids: Sequence[str]) -> tuple[bytes, datetime] | None:
    """The chosen letters as one PDF for printing, each marked as printed; None if none is ready."""
    letters = ready_letters(session, public_ids)
    if not letters:
        return None
    writer = PdfWriter()
    now = clock.now()
    for letter in letters:
        assert letter.pdf is not None
        writer.append(io.BytesIO(letter.pdf))
        letter.printed_at = now
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), now


def mark_posted(session: so.Session, user: User, public_ids: Sequence[str]) -> int:
    """Handed to the post: the chosen letters still in the Postausgang; how many were marked."""
    now = clock.now()
    posted = session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.public_id.in_(public_ids),
            OutboxMessage.kind == Kind.LETTER,
            OutboxMessage.state == State.READY,
        )
        .values(state=State.POSTED, sent_at=now, posted_by=user.email)
        .returning(OutboxMessage.public_id, OutboxMessage.agency_id)
        .execution_options(synchronize_session=False)
    ).all()
    for public_id, agency_id in posted:
        audit.record(
            session, "letter_posted", actor=user, object_type="message", object_id=public_id, agency_id=agency_id
        )
    return len(posted)


def unpost(session: so.Session, user: User, public_id: str) -> str:
    """Undo "zur Post gegeben" while the letter's PDF is kept: back into the Postausgang. Returns the
    addressee; BackofficeError if it was not posted or its PDF is gone."""
    found = session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.public_id == public_id,
            OutboxMessage.kind == Kind.LETTER,
            OutboxMessage.state == State.POSTED,
            OutboxMessage.pdf.is_not(None),
        )
        .values(state=State.READY, sent_at=None, posted_by=None)
        .returning(OutboxMessage.recipient, OutboxMessage.agency_id)
        .execution_options(synchronize_session=False)
    ).first()
    if found is None:
        raise BackofficeError(
            "Dieser Brief kann nicht mehr zurückgeholt werden (nicht zur Post gegeben oder bereits gelöscht)."
        )
    audit.record(
        session, "letter_unposted", actor=user, object_type="message", object_id=public_id, agency_id=found.agency_id
    )
    return str(found.recipient)


def dev_messages(session: so.Session, limit: int = 100) -> list[OutboxMessage]:
    """Development mailbox: the newest e-mails and SMS."""
    stmt = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.kind.in_([Kind.EMAIL, Kind.SMS]))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    )
    return list(session.scalars(stmt.limit(limit)))


def dev_email(session: so.Session, public_id: str) -> OutboxMessage | None:
    message = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.public_id == public_id))
    return message if message is not None and message.kind is Kind.EMAIL else None
